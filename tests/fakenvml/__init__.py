"""The ABI-level fake NVML: compile ``fakenvml.c`` against the official ``nvml.h`` and build its profiles.

No tests here. :func:`compile_library` builds ``libnvidia-ml.so.1`` with the machine's C compiler;
:func:`profile_from_recording` turns a ``spark-exporter gpu record`` recording (of the simulator, or of a
real GPU) into the fake library's profile, so the fake answers what the recorded source answered.
A missing compiler or header raises, which fails the suite: it is never skipped.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pynvml

SOURCE = Path(__file__).with_name("fakenvml.c")
LIBRARY = "libnvidia-ml.so.1"
#: The header package pinned in pyproject.toml's test extra.
HEADER_PACKAGE = "nvidia-nvml-dev"


def header_dir() -> Path:
    """The directory of the official ``nvml.h`` shipped by the nvidia-nvml-dev wheel (under nvidia/)."""
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        for header in sorted(Path(root).glob("*/include/nvml.h")):
            return header.parent
    raise RuntimeError(f"nvml.h not found: install the test extra ({HEADER_PACKAGE}); see pyproject.toml")


def compile_library(out_dir: Path, omit: tuple[str, ...] = ()) -> Path:
    """Compile the fake library into ``out_dir/libnvidia-ml.so.1``, leaving out the symbols in ``omit``."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) found: the fake NVML library cannot be built")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / LIBRARY
    argv = [cc, "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-Wno-deprecated-declarations",
            f"-I{header_dir()}", *(f"-DOMIT_{name}" for name in omit), "-o", str(target), str(SOURCE),
            "-lpthread"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"compiling {SOURCE.name} failed:\n{done.stderr[-3000:]}")
    return out_dir


_PARTS = {
    "nvmlDeviceGetUtilizationRates": ("gpu", "memory"),
    "nvmlDeviceGetEccMode": ("current", "pending"),
    "nvmlDeviceGetEncoderUtilization": ("utilization", "period"),
    "nvmlDeviceGetDecoderUtilization": ("utilization", "period"),
    "nvmlDeviceGetRemappedRows": ("correctable", "uncorrectable", "pending", "failure"),
}
_OLD_NAMES = {
    "nvmlDeviceGetCurrentClocksEventReasons": "nvmlDeviceGetCurrentClocksThrottleReasons",
    "nvmlDeviceGetTemperatureV": "nvmlDeviceGetTemperature",
}
_PROCESS_LISTS = {
    "nvmlDeviceGetComputeRunningProcesses_v3": "processes",
    "nvmlDeviceGetComputeRunningProcesses_v2": "processes",
    "nvmlDeviceGetGraphicsRunningProcesses_v3": "graphics_processes",
    "nvmlDeviceGetGraphicsRunningProcesses_v2": "graphics_processes",
}


def profile_from_recording(recording: dict[str, Any]) -> dict[str, Any]:
    """The fake library's profile answering every recorded call as recorded (values and error codes)."""
    devices: dict[int, dict[str, Any]] = {}
    profile: dict[str, Any] = {"driver": recording.get("driver") or "", "errors": {}, "process_names": {}}

    def dev(i: int) -> dict[str, Any]:
        return devices.setdefault(i, {"values": {}, "errors": {}, "processes": [], "graphics_processes": []})

    for call in recording["calls"]:
        fn, args = call["fn"], call["args"]
        gpu = args[0]["gpu"] if args and isinstance(args[0], dict) and "gpu" in args[0] else None
        rest = args[1:] if gpu is not None else args
        code, value = call.get("code"), call.get("value")
        if fn == "nvmlDeviceGetHandleByIndex":
            d = dev(int(args[0]))
            if code == pynvml.NVML_ERROR_GPU_IS_LOST:
                d["lost"] = True
            continue
        if fn == "nvmlSystemGetProcessName":
            if value is not None:
                profile["process_names"][str(args[0])] = value
            continue
        if fn == "nvmlGpmMetricsGet" and args and isinstance(args[0], dict) and "gpm_metrics_of" in args[0]:
            gpm_gpu = args[0]["gpm_metrics_of"]
            if gpm_gpu is not None and not code:
                metrics = dev(int(gpm_gpu)).setdefault("gpm", {"supported": True, "metrics": {}})["metrics"]
                metrics.update({str(m["metricId"]): m["value"] for m in value["metrics"]
                                if m["nvmlReturn"] == pynvml.NVML_SUCCESS})
            continue
        if gpu is None:
            if code:
                profile["errors"][fn] = code
            continue
        d = dev(gpu)
        if fn == "nvmlDeviceGetMemoryInfo":
            fn = "nvmlDeviceGetMemoryInfo_v2" if rest else fn
            rest = []
        if fn == "nvmlGpmSampleGet":
            rest = []  # the sample buffer is opaque: an error is the call's, on this GPU
        key = ".".join([fn, *(str(a) for a in rest)])
        if code:
            d["errors"]["busId" if fn == "nvmlDeviceGetPciInfo" else key] = code
        elif fn == "nvmlDeviceGetPciInfo":
            d["values"]["busId"] = value["busId"]
        elif fn.startswith("nvmlDeviceGetMemoryInfo"):
            for part in ("total", "reserved", "free", "used"):
                if part in value:
                    d["values"][f"{fn}.{part}"] = value[part]
        elif fn in _PARTS:
            parts = [value[p] for p in _PARTS[fn]] if isinstance(value, dict) else value
            for part, v in zip(_PARTS[fn], parts, strict=False):
                d["values"][f"{fn}.{part}"] = v
        elif fn in _PROCESS_LISTS:
            d[_PROCESS_LISTS[fn]] = [{"pid": p["pid"], **({"used": p["usedGpuMemory"]}
                                                         if p.get("usedGpuMemory") is not None else {})}
                                     for p in value]
        elif fn == "nvmlGpmQueryDeviceSupport":
            d.setdefault("gpm", {"metrics": {}})["supported"] = bool(value.get("isSupportedDevice"))
        elif fn == "nvmlGpmSampleGet":
            continue  # the sample is opaque; an error was kept above
        elif fn == "nvmlDeviceGetFieldValues":
            for fv in value:
                fkey = f"field.{fv['fieldId']}.{fv['scopeId']}"
                if fv["nvmlReturn"] == pynvml.NVML_SUCCESS:
                    d["values"][fkey] = fv["value"]
                else:
                    d["errors"][fkey] = fv["nvmlReturn"]
        elif fn in _OLD_NAMES:  # the same answer under the older name, for old-driver builds
            d["values"][key] = value
            d["values"][key.replace(fn, _OLD_NAMES[fn], 1)] = value
        else:
            d["values"][key] = value
    profile["devices"] = [devices[i] for i in sorted(devices)]
    for d in profile["devices"]:  # NotSupported is the library's default answer: keep the profile short
        d["errors"] = {k: c for k, c in d["errors"].items() if c != pynvml.NVML_ERROR_NOT_SUPPORTED}
    return profile
