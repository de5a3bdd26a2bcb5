"""``spark-exporter gpu record --output FILE``: every NVML call the gpu collector makes, once, as JSON.

The recorder runs one collection of the gpu collector (and one PCIe sample; where a GPU has GPM, a second
collection 0.2 s later for the GPM metrics of that interval) with the NVML library
wrapped so that each call's arguments and answer (value or NVML error name and code) are written down,
together with the driver version and the GPU models. Any exporter flag may follow, e.g.
``--gpu.simulate=gb10`` records the simulator. ``--gpu.replay=FILE`` serves the result through the
same code path (see docs/gpu.md for sending a recording from real hardware as a test profile).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pynvml

from .background import WatchedDevice, handle_key
from .facade import NvmlFatal, NvmlUnavailable, load_library
from .gpm import MIN_INTERVAL, sample_id
from .recording import FORMAT, Encoder

PROG = "spark-exporter gpu"
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


def record(exporter_argv: Sequence[str]) -> dict[str, Any]:
    """One collection of the gpu collector, configured by exporter flags, over a recording library."""
    from ..collectors.base import Paths
    from ..exporter.main import load_config

    cfg = load_config(list(exporter_argv))
    lib = load_library(cfg["gpu.simulate"], cfg["gpu.seed"], cfg["gpu.replay"])
    source = (f"simulate:{cfg['gpu.simulate']}:seed={cfg['gpu.seed']}" if cfg["gpu.simulate"]
              else f"replay:{cfg['gpu.replay']}" if cfg["gpu.replay"] else "nvml")
    return record_library(cfg, Paths.from_config(cfg), lib, source)


def record_library(cfg: Any, paths: Any, lib: Any, source: str, clock: Any = None,
                   wait: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Record one collection (and one PCIe sample) of a gpu collector over ``lib``; returns the recording.

    Where a GPU has GPM, a second collection follows after ``wait(2 * MIN_INTERVAL)`` (0.2 s) so that the GPM
    metrics of that interval are recorded too (the first collection's other answers are kept).
    """
    from ..collectors.gpu import GpuCollector

    recorder = RecordingLibrary(lib)
    collector = GpuCollector(cfg, paths, nvml_lib=recorder, **({"clock": clock} if clock else {}))
    try:
        collector.collect()
        if collector.pcie is not None and collector._devices:
            collector.pcie.sample_once([WatchedDevice(d.handle, d.uuid) for d in collector._devices])
        if collector.gpm.supported_count():
            wait(2 * MIN_INTERVAL)
            collector.collect()
    finally:
        collector.close()
    calls = recorder.calls
    driver = next((c.get("value") for c in calls if c["fn"] == "nvmlSystemGetDriverVersion"), None)
    models = sorted({c["value"] for c in calls if c["fn"] == "nvmlDeviceGetName" and "value" in c})
    try:
        binding = metadata.version("nvidia-ml-py")
    except metadata.PackageNotFoundError:
        binding = "unknown"
    return {"format": FORMAT, "driver": driver, "models": models, "source": source,
            "nvidia_ml_py": binding, "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "calls": calls}


def main(argv: Sequence[str]) -> int:
    """``spark-exporter gpu record --output FILE``: record every NVML answer the gpu collector uses as JSON.

    Exit status 0, 1 (NVML unavailable, cannot write FILE) or 2 (bad settings).
    """
    parser = argparse.ArgumentParser(
        prog=PROG, description="GPU tools. 'record' writes every NVML answer the gpu collector uses as JSON; "
        "exporter flags (e.g. --gpu.simulate=gb10) may follow.")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="Record every NVML call the gpu collector makes, once, as JSON.",
                         description="Call every NVML function the gpu collector uses, on every GPU, once, and "
                         "write each answer (value or error name) as JSON with the driver version and models; "
                         "'--gpu.replay=FILE' serves such a recording. Exporter flags (e.g. --gpu.simulate=gb10) "
                         "may follow.")
    rec.add_argument("--output", required=True, metavar="FILE", help="Where to write the recording ('-': stdout).")
    rec.epilog = ("Every exporter setting (flags, SPARK_EXPORTER_* environment, --config.file) applies, as for "
                  "'spark-exporter --help'; --check-config prints them and records nothing.")
    args, rest = parser.parse_known_args(list(argv))
    from ..exporter.main import load_config
    from ..logs import setup_logging
    from ..settings import ConfigError

    if "--check-config" in rest:
        try:
            cfg = load_config(rest)
        except ConfigError as e:
            print(f"{PROG}: error: {e}", file=sys.stderr)
            return 2
        print(f"output={args.output}  # flag")
        print("\n".join(cfg.describe()))
        return 0
    setup_logging("warn")  # on stderr: stdout may carry the recording ("--output -")

    try:
        data = record(rest)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except (NvmlUnavailable, NvmlFatal) as e:
        print(f"{PROG}: error: NVML: {e}", file=sys.stderr)
        return 1
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    try:
        tmp = f"{args.output}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, args.output)
    except OSError as e:
        print(f"{PROG}: error: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"recorded {len(data['calls'])} NVML calls on {len(set(data['models']))} model(s), driver "
          f"{data['driver']}, to {args.output}", file=sys.stderr)
    return 0
