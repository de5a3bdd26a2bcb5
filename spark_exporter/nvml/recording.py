"""The JSON form of NVML answers, shared by the recorder and the replayer.

A recording is ``{"format": FORMAT, "driver": ..., "models": [...], "source": ..., "calls": [...]}``;
each call is ``{"fn": NAME, "args": [...], "value": ...}`` or ``{"fn": ..., "args": [...], "error": NAME,
"code": N}``. A device handle is written ``{"gpu": INDEX}``; a ctypes struct as an object of its fields
(with ``"_struct"``, the pynvml class name); an NVML field value as ``{"fieldId", "scopeId",
"nvmlReturn", "value"}`` with the decoded number. GPM: a sample buffer is an ``{"object": ...}``; a
``nvmlGpmMetricsGet`` call's argument is ``{"gpm_metrics_of": GPU}`` (the GPU its samples were taken on) and its
answer ``{"_struct": "c_nvmlGpmMetricsGet_t", "metrics": [{"metricId", "nvmlReturn", "value"}, ...]}``.
"""

from __future__ import annotations

import ctypes
import json
from typing import Any

import pynvml

from .base import decode_field_value, handle_key
from .gpm import sample_id

FORMAT = "spark-exporter-nvml-recording/1"
MAX_BYTES = 8 * 1024 * 1024  # a recording larger than this is refused (an 8-GPU one is about 75 KB)


def call_key(fn: str, args: list[Any]) -> str:
    """The recording key of a call: ``fn`` followed by its encoded args as compact, key-sorted JSON."""
    return fn + json.dumps(args, sort_keys=True, separators=(",", ":"))


class Encoder:
    """Turns NVML arguments and answers into JSON values; knows which handle is which GPU."""

    def __init__(self) -> None:
        self.gpus: dict[Any, int] = {}
        self.gpm_samples: dict[int | None, int] = {}  # GPM sample address -> the GPU it was last taken on

    def arg(self, a: Any) -> Any:
        """A JSON-able form of a call argument: plain values as they are, a known GPU handle as ``{"gpu": N}``,
        other objects as ``{"object": type name}``.
        """
        if isinstance(a, list | tuple):
            return [self.arg(x) for x in a]
        if isinstance(a, bool | int | float | str) or a is None:
            return a
        if isinstance(a, pynvml.c_nvmlGpmMetricsGet_t):
            return {"gpm_metrics_of": self.gpm_samples.get(sample_id(a.sample2))}
        try:
            key = handle_key(a)
            if key in self.gpus:
                return {"gpu": self.gpus[key]}
        except TypeError:
            pass
        return {"object": type(a).__name__}

    def value(self, v: Any) -> Any:
        """A JSON-able form of an NVML answer: bytes as text, field values, arrays and ctypes structures
        recursively (``_struct`` names the type).
        """
        if v is None or isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace").rstrip("\x00")
        if isinstance(v, pynvml.c_nvmlFieldValue_t):
            ok = v.nvmlReturn == pynvml.NVML_SUCCESS
            return {"fieldId": int(v.fieldId), "scopeId": int(v.scopeId), "nvmlReturn": int(v.nvmlReturn),
                    "value": decode_field_value(v) if ok else None}
        if isinstance(v, pynvml.c_nvmlGpmMetricsGet_t):
            n = min(int(v.numMetrics), pynvml.NVML_GPM_METRIC_MAX)
            return {"_struct": "c_nvmlGpmMetricsGet_t",
                    "metrics": [{"metricId": int(m.metricId), "nvmlReturn": int(m.nvmlReturn), "value": float(m.value)}
                                for m in v.metrics[:n]]}
        if isinstance(v, ctypes.Array | list | tuple):
            return [self.value(x) for x in v]
        if isinstance(v, ctypes.Structure):
            out: dict[str, Any] = {"_struct": type(v).__name__}
            for name, *_ in v._fields_:
                out[name] = self.value(getattr(v, name))
            return out
        if isinstance(v, pynvml.nvmlFriendlyObject):
            return {k: self.value(x) for k, x in vars(v).items()}
        key = handle_key(v)
        if key in self.gpus:
            return {"gpu": self.gpus[key]}
        return {"object": type(v).__name__}
