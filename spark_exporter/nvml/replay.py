"""``--gpu.replay=FILE``: serve a recording made by ``spark-exporter gpu record`` through the same code path
as the real NVML and the simulator.

Each call answers what was recorded for the same function and arguments: the value, or the recorded NVML
error raised as ``pynvml``'s own error class. A call that was never recorded answers NotSupported, so its
field is left out. XID events are not recorded: registration works and waits time out. GPM sample buffers are
made here; ``nvmlGpmMetricsGet`` answers the metrics recorded for the GPU its samples were taken on.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import pynvml

from ..settings.files import read_text_file
from ..settings.values import ConfigError
from .gpm import opaque_sample, sample_id
from .recording import FORMAT, MAX_BYTES, call_key


@dataclass(frozen=True)
class ReplayHandle:
    """Stands in for ``c_nvmlDevice_t``: the GPU's index in the recording."""

    index: int


class _EventSet:
    def __init__(self) -> None:
        self.closed = threading.Event()


class _Struct:
    """A recorded struct: its fields as attributes (``info.total``, ``pci.busId``)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.__dict__.update(fields)


class ReplayedNvml:
    """The subset of ``pynvml`` the collector calls, answered from a recording."""

    def __init__(self, recording: dict[str, Any], source: str = "recording") -> None:
        if not isinstance(recording, dict) or recording.get("format") != FORMAT:
            raise ValueError(f"{source}: not a spark-exporter NVML recording (format {FORMAT!r} expected)")
        calls = recording.get("calls")
        if not isinstance(calls, list):
            raise ValueError(f"{source}: 'calls' must be a list")
        self.recording = recording
        self._gpm_lock = threading.Lock()
        self._gpm_next = 0
        self._gpm_samples: dict[int | None, int | None] = {}  # sample address -> GPU index it was taken on
        self._answers: dict[str, dict[str, Any]] = {}
        for i, c in enumerate(calls):
            if not isinstance(c, dict) or not isinstance(c.get("fn"), str) or not isinstance(c.get("args"), list):
                raise ValueError(f"{source}: call {i} needs 'fn' (string) and 'args' (list)")
            self._answers[call_key(c["fn"], c["args"])] = c

    @classmethod
    def from_file(cls, path: str) -> ReplayedNvml:
        """The recording in ``path`` (at most MAX_BYTES of UTF-8 JSON); ValueError naming what is wrong."""
        try:
            data = json.loads(read_text_file(path, "GPU recording", MAX_BYTES))
        except ConfigError as e:
            raise ValueError(str(e).removeprefix("GPU recording ")) from None
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON at line {e.lineno}: {e.msg}") from None
        except RecursionError:  # json recurses once per nesting level
            raise ValueError(f"{path}: invalid JSON: nested too deeply") from None
        return cls(data, path)

    # -- the calls that are not answered from the recording ----------------------------------------

    def nvmlInit(self) -> None:  # noqa: N802 - pynvml's names
        """No-op: a recording needs no initialisation."""
        pass

    def nvmlShutdown(self) -> None:  # noqa: N802
        """No-op."""
        pass

    def nvmlEventSetCreate(self) -> _EventSet:  # noqa: N802
        """A new event set; recordings carry no XID events."""
        return _EventSet()

    def nvmlDeviceRegisterEvents(self, h: Any, event_types: int, es: _EventSet) -> None:  # noqa: N802
        """No-op: recordings carry no events."""
        pass

    def nvmlEventSetWait_v2(self, es: _EventSet, timeout_ms: int) -> Any:  # noqa: N802
        """Wait up to ``timeout_ms`` ms (less if the set is freed), then raise NVMLError(TIMEOUT): no events."""
        es.closed.wait(timeout_ms / 1000)
        raise pynvml.NVMLError(pynvml.NVML_ERROR_TIMEOUT)

    def nvmlEventSetFree(self, es: _EventSet) -> None:  # noqa: N802
        """Free the set, waking any waiter."""
        es.closed.set()

    def nvmlGpmSampleAlloc(self) -> Any:  # noqa: N802
        """A new opaque ``c_nvmlGpmSample_t`` (an identity only)."""
        with self._gpm_lock:
            self._gpm_next += 1
            n = self._gpm_next * 64
            self._gpm_samples[n] = None
        return opaque_sample(n)

    def nvmlGpmSampleFree(self, sample: Any) -> None:  # noqa: N802
        """Forget the sample."""
        with self._gpm_lock:
            self._gpm_samples.pop(sample_id(sample), None)

    def nvmlGpmSampleGet(self, h: Any, sample: Any) -> Any:  # noqa: N802
        """The recorded answer for this GPU; on success the sample is marked as taken on it."""
        self._answer("nvmlGpmSampleGet", (h, sample))
        with self._gpm_lock:
            if sample_id(sample) not in self._gpm_samples:
                raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
            self._gpm_samples[sample_id(sample)] = h.index if isinstance(h, ReplayHandle) else None
        return sample

    def nvmlGpmMetricsGet(self, mg: Any) -> Any:  # noqa: N802
        """Fill ``mg``'s requested metrics from those recorded for the GPU of its samples (NotSupported where
        none was recorded)."""
        with self._gpm_lock:
            gpu = self._gpm_samples.get(sample_id(mg.sample2))
        recorded = self._answer("nvmlGpmMetricsGet", ({"gpm_metrics_of": gpu},))
        metrics = getattr(recorded, "metrics", None)
        by_id = {int(m.metricId): m for m in metrics} if isinstance(metrics, list) else {}
        for i in range(min(int(mg.numMetrics), pynvml.NVML_GPM_METRIC_MAX)):
            m = mg.metrics[i]
            r = by_id.get(int(m.metricId))
            m.nvmlReturn = int(r.nvmlReturn) if r is not None else pynvml.NVML_ERROR_NOT_SUPPORTED
            m.value = float(r.value) if r is not None and r.value is not None else 0.0
        return mg

    # -- everything else ---------------------------------------------------------------------------

    def _answer(self, name: str, args: tuple[Any, ...]) -> Any:
        entry = self._answers.get(call_key(name, [_encode_arg(a) for a in args]))
        if entry is None:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED)
        if "error" in entry:
            code = entry.get("code")
            raise pynvml.NVMLError(int(code) if isinstance(code, int) else pynvml.NVML_ERROR_UNKNOWN)
        return _decode(entry.get("value"))

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("nvml"):
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            return self._answer(name, args)

        return call


def _encode_arg(a: Any) -> Any:
    """As the recorder's Encoder.arg writes it: a handle as ``{"gpu": N}``, any other object by its type name."""
    if isinstance(a, ReplayHandle):
        return {"gpu": a.index}
    if isinstance(a, list | tuple):
        return [_encode_arg(x) for x in a]
    if isinstance(a, bool | int | float | str | dict) or a is None:
        return a
    return {"object": type(a).__name__}


def _decode(v: Any) -> Any:
    if isinstance(v, list):
        if v and all(isinstance(x, dict) and "fieldId" in x for x in v):
            return _field_values(v)
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"gpu"}:
            return ReplayHandle(int(v["gpu"]))
        return _Struct({k: _decode(x) for k, x in v.items() if k != "_struct"})
    return v


def _field_values(items: list[dict[str, Any]]) -> Any:
    out = (pynvml.c_nvmlFieldValue_t * len(items))()
    for i, item in enumerate(items):
        out[i].fieldId, out[i].scopeId = int(item["fieldId"]), int(item["scopeId"])
        out[i].nvmlReturn = int(item["nvmlReturn"])
        value = item.get("value")
        if out[i].nvmlReturn == pynvml.NVML_SUCCESS and value is not None:
            if float(value).is_integer() and value >= 0:
                out[i].valueType = pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG
                out[i].value.ullVal = int(value)
            else:
                out[i].valueType = pynvml.NVML_VALUE_TYPE_DOUBLE
                out[i].value.dVal = float(value)
    return out
