"""Simulator device profiles: the static facts of each simulated GPU model, and the profile syntax.

Profiles (append ``xN`` for N GPUs, e.g. ``h100x8``):

* ``gb10``: DGX Spark. Unified memory: ``nvmlDeviceGetMemoryInfo`` answers NotSupported, as do PCIe
  throughput and replay (the GPU sits on NVLink-C2C), the memory clock and temperature, the power limit,
  ECC and row remapping; no fan, no NVLink. Utilisation, temperature, power, SM clock, energy and
  per-process memory work.
* ``h100``: NVIDIA H100 80GB HBM3, discrete, 81559 MiB, 18 NVLinks, ECC on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..settings.values import parse_simulator_profile

MIB = 1024 * 1024
# The profile syntax is settings' (the bottom layer parses --gpu.simulate without importing nvml).
parse_profile = parse_simulator_profile


@dataclass(frozen=True)
class Model:
    """Static facts of one simulated GPU model."""

    name: str
    driver: str
    unified: bool
    memory_total: int  # bytes (0 for unified memory)
    memory_reserved: int  # bytes
    power_idle: float  # W
    power_max: float  # W
    power_limit: float | None  # W; None: NotSupported
    sm_clock: tuple[int, int]  # MHz, (idle, max)
    mem_clock: int | None  # MHz; None: NotSupported
    nvlinks: int
    ecc: bool
    pcie: bool
    process_mib: tuple[int, ...]  # MiB per simulated process at full load
    bus_ids: tuple[str, ...]


MODELS = {
    "gb10": Model(
        name="NVIDIA GB10", driver="580.95.05", unified=True, memory_total=0, memory_reserved=0,
        power_idle=4.0, power_max=95.0, power_limit=None, sm_clock=(208, 2418), mem_clock=None,
        nvlinks=0, ecc=False, pcie=False, process_mib=(14336, 3072),
        bus_ids=("0000000F:01:00.0",),
    ),
    "h100": Model(
        name="NVIDIA H100 80GB HBM3", driver="570.133.20", unified=False, memory_total=81559 * MIB,
        memory_reserved=522 * MIB, power_idle=70.0, power_max=660.0, power_limit=700.0, sm_clock=(345, 1980),
        mem_clock=2619, nvlinks=18, ecc=True, pcie=True, process_mib=(62000, 4200, 900),
        bus_ids=("00000000:18:00.0", "00000000:2A:00.0", "00000000:3A:00.0", "00000000:5D:00.0",
                 "00000000:9A:00.0", "00000000:AB:00.0", "00000000:BA:00.0", "00000000:DB:00.0"),
    ),
}
PROCESS_NAMES = ("python3", "vllm", "pt_main_thread", "trtllm-serve", "ray::worker")
