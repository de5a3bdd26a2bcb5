"""The recording NVML library: every call's arguments and answer, written down once.

:class:`RecordingLibrary` wraps an NVML library object so that each call's arguments and answer
(value or NVML error name and code) are kept. One collection of the gpu collector over it
(:func:`spark_exporter.collectors.gpu.record.record_library`) makes a recording; the command line
is ``spark-exporter gpu record`` (:mod:`spark_exporter.commands.gpu`). ``--gpu.replay=FILE`` serves
a recording through the same code path (see docs/gpu.md).
Where a GPU has GPM, the recording holds a second collection's answers taken 0.2 s after the first,
so the GPM metrics of that interval are recorded too.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pynvml

from .base import handle_key
from .gpm import sample_id
from .recording import Encoder

#: Calls that manage the session or wait for events: passed through, not recorded.
NOT_RECORDED = frozenset({"nvmlInit", "nvmlShutdown", "nvmlEventSetCreate", "nvmlDeviceRegisterEvents",
                          "nvmlEventSetWait_v2", "nvmlEventSetFree", "nvmlGpmSampleAlloc", "nvmlGpmSampleFree"})


class RecordingLibrary:
    """Wraps an NVML library object; each call's arguments and answer are appended to :attr:`calls`."""

    def __init__(self, lib: Any) -> None:
        self._lib = lib
        self._enc = Encoder()
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._lib, name)  # AttributeError: the facade's "not in nvidia-ml-py"
        if name in NOT_RECORDED or not callable(target) or not name.startswith("nvml"):
            return target

        def call(*args: Any) -> Any:
            if name == "nvmlGpmSampleGet" and len(args) == 2:  # which GPU a later metrics call is about
                gpu = self._enc.gpus.get(handle_key(args[0]))
                if gpu is not None:
                    self._enc.gpm_samples[sample_id(args[1])] = gpu
            entry: dict[str, Any] = {"fn": name, "args": [self._enc.arg(a) for a in args]}
            try:
                value = target(*args)
            except pynvml.NVMLLibraryMismatchError:
                entry.update(error="NVMLError_FunctionNotFound", code=pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)
                self._add(entry)
                raise
            except pynvml.NVMLError as e:
                entry.update(error=type(e).__name__, code=int(e.value))
                self._add(entry)
                raise
            if name == "nvmlDeviceGetHandleByIndex":
                self._enc.gpus[handle_key(value)] = int(args[0])
            entry["value"] = self._enc.value(value)
            self._add(entry)
            return value

        return call

    def _add(self, entry: dict[str, Any]) -> None:
        key = json.dumps([entry["fn"], entry["args"]], sort_keys=True)
        with self._lock:
            if key not in self._seen:
                self._seen.add(key)
                self.calls.append(entry)
