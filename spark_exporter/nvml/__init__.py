"""NVML behind one small facade, and a simulator with the same call surface as ``pynvml``."""
