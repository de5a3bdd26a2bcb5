"""Fault injection for the GPU tests: the shipped simulator plus failures it never produces on its own.

:class:`FaultyNvml` is a :class:`~spark_exporter.nvml.sim.SimulatedNvml` whose ``_enter`` hook (run
before every simulated call) also applies the faults injected here. It lives in the test tree so the
wheel carries no test-only API.
"""

from __future__ import annotations

import time
from typing import Any

import pynvml

from spark_exporter.nvml.sim import SimHandle, SimulatedNvml, _SimEventData


class FaultyNvml(SimulatedNvml):
    """The simulator with injectable faults: lost GPUs, error answers, hung calls, missing library."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._library_missing = False
        self._lost: set[int] = set()
        self._errors: dict[tuple[str, int | None], int] = {}  # (fn, gpu or None) -> NVML error code
        self._slow: dict[str, float] = {}

    def inject_xid(self, gpu: int, xid: int) -> None:
        """Deliver a critical XID event for ``gpu`` to every event set registered for it."""
        ev = _SimEventData(SimHandle(gpu), pynvml.nvmlEventTypeXidCriticalError, xid)
        with self._lock:
            for es in self._event_sets:
                if gpu in es.devices and not es.freed:
                    es.queue.put(ev)

    def lose_gpu(self, gpu: int, lost: bool = True) -> None:
        """Every call on ``gpu`` (and its handle lookup) raises GpuIsLost, or works again with ``lost=False``."""
        (self._lost.add if lost else self._lost.discard)(gpu)

    def fail(self, fn: str, code: int, gpu: int | None = None) -> None:
        """``fn`` raises the NVML error ``code`` (on ``gpu``, or on every GPU); ``code=0`` clears it."""
        if code:
            self._errors[(fn, gpu)] = code
        else:
            self._errors.pop((fn, gpu), None)

    def make_unsupported(self, fn: str, gpu: int | None = None) -> None:
        """``fn`` raises NotSupported (on ``gpu``, or on every GPU)."""
        self.fail(fn, pynvml.NVML_ERROR_NOT_SUPPORTED, gpu)

    def make_field_unsupported(self, field_id: int) -> None:
        """``nvmlDeviceGetFieldValues`` answers NotSupported for ``field_id`` (an ``NVML_FI_*``)."""
        self._unsupported_fields.add(field_id)

    def slow_call(self, fn: str, seconds: float) -> None:
        """``fn`` sleeps ``seconds`` before answering (a hung driver call)."""
        self._slow[fn] = seconds

    def remove_library(self, missing: bool = True) -> None:
        """``nvmlInit`` raises LibraryNotFound, as on a machine without the NVIDIA driver."""
        self._library_missing = missing

    def reload_driver(self, version: str | None = None) -> None:
        """Every call raises Uninitialized until ``nvmlInit`` runs again; event sets are dropped."""
        with self._lock:
            self._initialized = False
            self._driver = version or self._driver
            for es in self._event_sets:
                es.freed = True
            self._event_sets.clear()

    def disable_events(self) -> None:
        """``nvmlDeviceRegisterEvents`` raises NotSupported."""
        self._events_supported = False

    def report_host_total(self, total_bytes: int) -> None:
        """A unified-memory driver that answers memory info with the host's MemTotal as the total."""
        self._host_total = total_bytes

    def _enter(self, fn: str, args: tuple[Any, ...]) -> None:
        self.calls[fn] = self.calls.get(fn, 0) + 1
        delay = self._slow.get(fn)
        if delay:
            time.sleep(delay)
        if fn == "nvmlInit":
            if self._library_missing:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)
            return
        if not self._initialized:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        gpu = args[0].index if args and isinstance(args[0], SimHandle) else None
        if fn == "nvmlDeviceGetHandleByIndex" and args:
            gpu = int(args[0])
        if gpu is not None and gpu in self._lost:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)
        code = self._errors.get((fn, gpu)) or self._errors.get((fn, None))
        if code:
            raise pynvml.NVMLError(code)
