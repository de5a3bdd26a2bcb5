"""Side-by-side benchmark: spark-exporter (host collectors) vs Debian's prometheus-node-exporter.

Both run on this machine on loopback with the same host collectors, and are scraped over keep-alive
connections with ``Accept-Encoding: gzip`` (as Prometheus scrapes). spark-exporter runs with
``--collect.min-age=0s``, so every scrape collects, as every node_exporter scrape does.

Phases, all in one run:

1. **Scrapes back to back**, alternating between the two, ``--scrapes`` each: latency p50/p99 and
   CPU seconds per scrape of each process (its CPU time over the phase divided by its scrapes).
2. **Prometheus cadence**: one scrape of each every ``--cadence`` seconds (15) for ``--cadence-window``
   seconds (300): the total CPU time of each process over the window, idle time included.
3. **Idle**: ``--idle-seconds`` without scrapes: our CPU time (the daemon should do no work).
4. **RSS**: our resident set before and after ``--rss-scrapes`` further scrapes (10,000).

    .venv/bin/python bench/bench_host.py [--scrapes 1000] [--cadence-window 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers.procs import exporter, free_port, http_get, wait_for  # noqa: E402
from spark_exporter.exporter.daemon import load_config  # noqa: E402

# The host collectors our daemon runs by default (each has node_exporter's name); both processes get the same
# command line, --collector.disable-defaults and these, so each runs exactly this set.
NODE_COLLECTORS = sorted(load_config(["--no-collector.gpu"], {}).enabled_collectors)
COLLECTOR_FLAGS = ["--collector.disable-defaults", *(f"--collector.{c}" for c in NODE_COLLECTORS)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


class Scraper:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def scrape(self) -> float:
        t0 = time.perf_counter()
        self.conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        resp = self.conn.getresponse()
        resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"scrape failed: {resp.status}")
        return elapsed


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``, exited ones included, in seconds with ns resolution.

    Read from the process' CPU-time clock (clock_getcpuclockid: ``(~pid << 3) | CPUCLOCK_SCHED``), not
    /proc/PID/stat, whose 10 ms ticks are too coarse for a 20-scrape window.
    """
    try:
        return time.clock_gettime((~pid << 3) | 2)
    except OSError:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scrapes", type=int, default=1000, help="back-to-back scrapes of each exporter")
    ap.add_argument("--cadence", type=float, default=15.0, help="seconds between scrapes in phase 2")
    ap.add_argument("--cadence-window", type=float, default=300.0, help="length of phase 2 in seconds")
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--rss-scrapes", type=int, default=10000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    binary = shutil.which("prometheus-node-exporter")
    if binary is None:
        print("prometheus-node-exporter is not installed (./dev.sh setup installs it)", file=sys.stderr)
        return 2
    ne_port = free_port()
    ne_args = [binary, f"--web.listen-address=127.0.0.1:{ne_port}", *COLLECTOR_FLAGS]
    ne = subprocess.Popen(ne_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result: dict[str, object] = {}
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{ne_port}/metrics")[0] == 200, 20, what="node_exporter")
        with exporter(*COLLECTOR_FLAGS, "--collect.min-age=0s") as ours:
            pid = ours.popen.pid
            s_ours, s_ne = Scraper(ours.port), Scraper(ne_port)
            rss_start = rss_mb(pid)
            for _ in range(50):  # warm-up
                s_ours.scrape()
                s_ne.scrape()

            # 1. Back to back, alternating.
            lat_ours: list[float] = []
            lat_ne: list[float] = []
            ours0, ne0 = cpu_seconds(pid), cpu_seconds(ne.pid)
            for _ in range(args.scrapes):
                lat_ours.append(s_ours.scrape())
                lat_ne.append(s_ne.scrape())
            ours_cpu = (cpu_seconds(pid) - ours0) / args.scrapes
            ne_cpu = (cpu_seconds(ne.pid) - ne0) / args.scrapes

            # 2. Prometheus cadence: one scrape of each every --cadence seconds.
            ours0, ne0 = cpu_seconds(pid), cpu_seconds(ne.pid)
            t_end = time.monotonic() + args.cadence_window
            cadence_scrapes = 0
            next_at = time.monotonic()
            while next_at < t_end:
                time.sleep(max(0.0, next_at - time.monotonic()))
                s_ours.scrape()
                s_ne.scrape()
                cadence_scrapes += 1
                next_at += args.cadence
            time.sleep(max(0.0, t_end - time.monotonic()))
            ours_window = cpu_seconds(pid) - ours0
            ne_window = cpu_seconds(ne.pid) - ne0

            # 3. Idle.
            ours0 = cpu_seconds(pid)
            time.sleep(args.idle_seconds)
            ours_idle = cpu_seconds(pid) - ours0

            # 4. RSS across many scrapes, each collecting.
            rss_samples = [rss_mb(pid)]
            step = max(1, args.rss_scrapes // 10)
            for i in range(1, args.rss_scrapes + 1):
                s_ours.scrape()
                if i % step == 0:
                    rss_samples.append(rss_mb(pid))
    finally:
        ne.terminate()
        ne.wait(10)

    result = {
        "scrapes": args.scrapes,
        "ours_p50_ms": statistics.median(lat_ours) * 1000,
        "ours_p99_ms": percentile(lat_ours, 0.99) * 1000,
        "node_exporter_p50_ms": statistics.median(lat_ne) * 1000,
        "node_exporter_p99_ms": percentile(lat_ne, 0.99) * 1000,
        "p50_ratio": statistics.median(lat_ours) / statistics.median(lat_ne),
        "ours_cpu_ms_per_scrape": ours_cpu * 1000,
        "node_exporter_cpu_ms_per_scrape": ne_cpu * 1000,
        "cpu_ratio": ours_cpu / ne_cpu if ne_cpu else None,
        "cadence_seconds": args.cadence,
        "cadence_window_seconds": args.cadence_window,
        "cadence_scrapes": cadence_scrapes,
        "ours_cadence_cpu_ms": ours_window * 1000,
        "node_exporter_cadence_cpu_ms": ne_window * 1000,
        "cadence_cpu_ratio": ours_window / ne_window if ne_window else None,
        "idle_seconds": args.idle_seconds,
        "ours_idle_cpu_ms": ours_idle * 1000,
        "rss_mb_at_start": round(rss_start, 1),
        "rss_mb_samples": [round(x, 1) for x in rss_samples],
        "rss_growth_mb": round(rss_samples[-1] - rss_samples[0], 1),
        "rss_scrapes": args.rss_scrapes,
        "collectors": ",".join(NODE_COLLECTORS),
        "python": sys.version.split()[0],
        "cpus": psutil.cpu_count(),
    }
    print(f"1. {args.scrapes} alternating back-to-back scrapes (gzip, keep-alive, --collect.min-age=0s):")
    print(f"   latency  ours p50 {result['ours_p50_ms']:.2f} ms p99 {result['ours_p99_ms']:.2f} ms; "
          f"node_exporter p50 {result['node_exporter_p50_ms']:.2f} ms p99 {result['node_exporter_p99_ms']:.2f} ms; "
          f"p50 ratio {result['p50_ratio']:.2f} (target <= 1.5)")
    print(f"   CPU per scrape  ours {result['ours_cpu_ms_per_scrape']:.2f} ms; node_exporter "
          f"{result['node_exporter_cpu_ms_per_scrape']:.2f} ms; ratio {result['cpu_ratio']:.2f} (target <= 1.0)")
    print(f"2. one scrape every {args.cadence:g} s for {args.cadence_window:g} s ({cadence_scrapes} each): total CPU "
          f"ours {result['ours_cadence_cpu_ms']:.0f} ms; "
          f"node_exporter {result['node_exporter_cadence_cpu_ms']:.0f} ms; "
          f"ratio {result['cadence_cpu_ratio']:.2f} (target <= 1.0)")
    print(f"3. idle {args.idle_seconds:g} s: our CPU {result['ours_idle_cpu_ms']:.1f} ms")
    print(f"4. RSS {result['rss_mb_at_start']} MB at start; {result['rss_mb_samples']} MB every "
          f"{step} of {args.rss_scrapes} scrapes (target <= 55 MB and flat)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
