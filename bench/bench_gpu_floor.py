"""The gpu collector against its floor: the same NVML calls made by a bare nvidia-ml-py loop, same fake driver.

The fake ``libnvidia-ml.so.1`` (tests/fakenvml/) is compiled against NVIDIA's nvml.h and loaded by the real
nvidia-ml-py, so both sides pay the same binding and library costs. For each profile a child process:

1. runs two collections of a gpu collector over a tap on ``pynvml`` and keeps the list of NVML calls the
   second one made (function and arguments: GPM's two-sample path included);
2. then, N times, interleaved: **floor** = that list called on ``pynvml`` directly in a loop (errors
   ignored); **collect** = ``collect()`` of a gpu collector on ``pynvml``; **scrape** = ``collect()`` plus
   ``render()`` (what the gpu collector adds to a scrape). A fake clock advances 15 s per collection, as
   at Prometheus' interval, so every collection takes a new GPM sample (as the floor does);
3. reports the medians (CPU time of the collecting thread, ``time.thread_time``: wall time on a shared
   machine swings several-fold with other work), the ratios to the floor and the child's peak RSS
   (``ru_maxrss``, the fake library's parsed profile included).

Profiles: ``h100x8`` and ``gb10`` (recordings of the simulator, seed 42) and ``h100x64p1000``: 64 H100s with
1,000 processes each, no process names in the driver (so every kept process is also looked up in
/proc/PID/comm, as in a container that cannot see them). PCIe sampling is off: it runs in its own thread.

    .venv/bin/python bench/bench_gpu_floor.py [--runs 200] [--big-runs 20] [--json out.json]
    .venv/bin/python bench/bench_gpu_floor.py --cprofile h100x64p1000   # where a collection's time goes
    SORT=cumulative TOP=40 .venv/bin/python bench/bench_gpu_floor.py --cprofile h100x8
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

BIG = "h100x64p1000"
SCRAPE_INTERVAL = 15.0  # seconds the fake clock advances per collection
CHILD_TIMEOUT = 900  # seconds


def big_profile(h100: dict[str, Any], gpus: int = 64, processes: int = 1000, seed: int = 1) -> dict[str, Any]:
    """``gpus`` copies of the recorded H100 with ``processes`` distinct processes each (1 MiB..8 GiB)."""
    rng = random.Random(seed)
    template = h100["devices"][0]
    profile = {k: v for k, v in h100.items() if k != "devices"}
    profile["process_names"] = {}
    profile["devices"] = []
    for i in range(gpus):
        d = copy.deepcopy(template)
        d["values"]["nvmlDeviceGetUUID"] = f"GPU-{i:08d}-0000-0000-0000-000000000000"
        d["values"]["busId"] = f"00000000:{i + 1:02X}:00.0"
        # below 32768, the kernel's default pid_max (a larger pid would mark the list misread); GPUs share
        # some pids, as a multi-GPU job's processes do
        d["processes"] = [{"pid": 1000 + (i * processes + k) % 31_000, "used": rng.randint(1, 8192) * 1024 * 1024}
                          for k in range(processes)]
        profile["devices"].append(d)
    return profile


def profiles() -> dict[str, dict[str, Any]]:
    from fakenvml import profile_from_recording
    from spark_exporter.commands.gpu import record
    from spark_exporter.exporter.daemon import load_config
    from spark_exporter.logs import setup_logging

    setup_logging("error")
    out = {p: profile_from_recording(json.loads(json.dumps(
        record(load_config([f"--gpu.simulate={p}", "--gpu.seed=42"], {})))))
           for p in ("h100x8", "gb10")}
    out[BIG] = big_profile(out["h100x8"])
    return out


# -- the child: runs with LD_LIBRARY_PATH pointing at the fake library ----------------------------------


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Tap:
    """``pynvml`` with each call's function and arguments appended to :attr:`calls` while ``on``, from the
    collecting thread only (the XID watcher's 500 ms event waits are not part of a collection)."""

    def __init__(self, lib: Any) -> None:
        self.lib, self.on, self.calls = lib, False, []
        self.thread = threading.get_ident()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.lib, name)
        if not callable(target) or not name.startswith("nvml"):
            return target

        def call(*args: Any) -> Any:
            if self.on and threading.get_ident() == self.thread:
                self.calls.append((target, args))
            return target(*args)
        return call


def child(runs: int, cprofile: bool) -> dict[str, Any]:
    import resource

    import pynvml

    from spark_exporter.collectors.base import Paths
    from spark_exporter.collectors.gpu import GpuCollector
    from spark_exporter.exporter.daemon import load_config
    from spark_exporter.exporter.exposition import Renderer
    from spark_exporter.logs import setup_logging

    setup_logging("error")
    render = Renderer().render  # kept between scrapes, as the daemon keeps its renderer
    cfg = load_config(["--gpu.pcie-interval=0"], environ={})
    clock = Clock()
    tap = Tap(pynvml)
    tapped = GpuCollector(cfg, Paths(), nvml_lib=tap, clock=clock)
    tapped.collect()
    clock.t += SCRAPE_INTERVAL
    tap.on = True
    tapped.collect()
    tap.on = False
    calls = tap.calls
    c = GpuCollector(cfg, Paths(), nvml_lib=pynvml, clock=clock)
    c.collect()
    gpus = len(c._devices or [])

    def floor(only: str = "") -> None:
        for fn, args in calls:
            if only and only not in fn.__name__:
                continue
            try:
                fn(*args)
            except pynvml.NVMLError:
                pass

    if cprofile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        for _ in range(runs):
            clock.t += SCRAPE_INTERVAL
            prof.runcall(lambda: render(list(c.collect())))
        stats = pstats.Stats(prof, stream=sys.stderr).sort_stats(os.environ.get("SORT", "tottime"))
        stats.print_stats(int(os.environ.get("TOP", "25")))
        return {}
    # CPU time of this thread: the machines these figures come from are shared, and wall time there
    # swings several-fold with other work; the collection and the floor run in this thread alone.
    now = time.thread_time
    times: dict[str, list[float]] = {"floor": [], "collect": [], "scrape": [], "floor_process_lists": []}
    body = b""
    for _ in range(runs):
        t0 = now()
        floor()
        times["floor"].append(now() - t0)
        t0 = now()
        floor("RunningProcesses")  # the part of the floor that nvidia-ml-py's process lists take
        times["floor_process_lists"].append(now() - t0)
        clock.t += SCRAPE_INTERVAL
        t0 = now()
        c.collect()
        times["collect"].append(now() - t0)
        clock.t += SCRAPE_INTERVAL
        t0 = now()
        body = render(list(c.collect()))
        times["scrape"].append(now() - t0)
    c.close()
    tapped.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"gpus": gpus, "nvml_calls": len(calls), "runs": runs, "bytes": len(body),
            "median_ms": {k: v * 1e3 for k, v in med.items()},
            "ratio": {"collect": med["collect"] / med["floor"], "scrape": med["scrape"] / med["floor"]},
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(libdir: Path, profile_path: Path, runs: int, cprofile: bool = False) -> dict[str, Any]:
    env = {**os.environ, "LD_LIBRARY_PATH": str(libdir), "FAKENVML_PROFILE": str(profile_path)}
    argv = [sys.executable, __file__, "--child", "--runs", str(runs), *(["--cprofile", "x"] if cprofile else [])]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"child for {profile_path.name} failed:\n{done.stderr[-3000:]}")
    if cprofile:
        print(done.stderr)
        return {}
    return dict(json.loads(done.stdout))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200, help="collections per small profile")
    ap.add_argument("--big-runs", type=int, default=20, help=f"collections for {BIG}")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--cprofile", metavar="PROFILE", help="print a cProfile of collect()+render() instead")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        result = child(args.runs, bool(args.cprofile))
        if result:
            print(json.dumps(result))
        return 0
    from fakenvml import compile_library

    with tempfile.TemporaryDirectory(prefix="bench-gpu-floor-") as tmp:
        libdir = compile_library(Path(tmp) / "lib")
        results: dict[str, Any] = {}
        for name, profile in profiles().items():
            if args.cprofile and name != args.cprofile:
                continue
            path = Path(tmp) / f"{name}.json"
            path.write_text(json.dumps(profile))
            runs = args.big_runs if name == BIG else args.runs
            if args.cprofile:
                run_child(libdir, path, runs, cprofile=True)
                continue
            r = results[name] = run_child(libdir, path, runs)
            m = r["median_ms"]
            print(f"{name:13} gpus={r['gpus']:2} calls={r['nvml_calls']:6} floor={m['floor']:8.2f} ms "
                  f"collect={m['collect']:8.2f} ms ({r['ratio']['collect']:.2f}x) "
                  f"scrape={m['scrape']:8.2f} ms ({r['ratio']['scrape']:.2f}x) peak_rss={r['peak_rss_mb']:.0f} MB "
                  f"(floor's process lists: {m['floor_process_lists']:.2f} ms)")
    if args.json and not args.cprofile:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
