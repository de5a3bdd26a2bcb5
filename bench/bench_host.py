"""Side-by-side benchmark: spark-exporter (host collectors) vs Debian's prometheus-node-exporter.

Both run on this machine on loopback, with the same set of collectors, and are scraped
alternately over keep-alive connections with ``Accept-Encoding: gzip`` (as Prometheus scrapes).

Prints, for each exporter:
  * scrape latency p50 / p99 over --scrapes alternating scrapes;
  * CPU seconds per collection (ours, measured over an idle window at a short interval) and per
    scrape (node_exporter, which collects on every scrape);
  * our RSS before and after --rss-scrapes further scrapes.

    .venv/bin/python bench/bench_host.py [--scrapes 1000] [--rss-scrapes 10000] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from procs import exporter, free_port, http_get, wait_for  # noqa: E402
from spark_exporter.collectors import load_all  # noqa: E402

# node_exporter collectors that correspond to ours: every host collector we register has node_exporter's name.
NODE_COLLECTORS = sorted(set(load_all()) - {"gpu"})


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[idx]


class Scraper:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

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
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scrapes", type=int, default=1000)
    ap.add_argument("--rss-scrapes", type=int, default=10000)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--node-exporter-defaults", action="store_true",
                    help="run node_exporter with its default collectors instead of the ones we implement")
    args = ap.parse_args()

    binary = shutil.which("prometheus-node-exporter")
    if binary is None:
        print("prometheus-node-exporter is not installed (./dev.sh setup installs it)", file=sys.stderr)
        return 2
    ne_port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="bench-host-"))
    ne_args = [binary, f"--web.listen-address=127.0.0.1:{ne_port}"]
    if not args.node_exporter_defaults:
        ne_args += ["--collector.disable-defaults", *[f"--collector.{c}" for c in NODE_COLLECTORS]]
    ne = subprocess.Popen(ne_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{ne_port}/metrics")[0] == 200, 20, what="node_exporter")
        interval = 0.5
        with exporter("--no-collector.gpu", f"--collect.min-age={round(interval * 1000)}ms") as ours:
            ours_pid = ours.popen.pid
            s_ours, s_ne = Scraper(ours.port), Scraper(ne_port)
            for _ in range(50):  # warm-up
                s_ours.scrape()
                s_ne.scrape()

            # 1. Latency, alternating.
            lat_ours: list[float] = []
            lat_ne: list[float] = []
            ne_cpu0 = cpu_seconds(ne.pid)
            for _ in range(args.scrapes):
                lat_ours.append(s_ours.scrape())
                lat_ne.append(s_ne.scrape())
            ne_cpu_per_scrape = (cpu_seconds(ne.pid) - ne_cpu0) / args.scrapes

            # 2. Our CPU per collection, over an idle window (no scrapes).
            c0, t0 = cpu_seconds(ours_pid), time.monotonic()
            time.sleep(args.idle_seconds)
            collections = (time.monotonic() - t0) / interval
            ours_cpu_per_collection = (cpu_seconds(ours_pid) - c0) / collections

            # 3. RSS across many scrapes.
            rss_samples = [psutil.Process(ours_pid).memory_info().rss]
            step = max(1, args.rss_scrapes // 10)
            for i in range(1, args.rss_scrapes + 1):
                s_ours.scrape()
                if i % step == 0:
                    rss_samples.append(psutil.Process(ours_pid).memory_info().rss)
    finally:
        ne.terminate()
        ne.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    mb = [r / 1e6 for r in rss_samples]
    result = {
        "scrapes": args.scrapes,
        "ours_p50_ms": statistics.median(lat_ours) * 1000,
        "ours_p99_ms": percentile(lat_ours, 0.99) * 1000,
        "node_exporter_p50_ms": statistics.median(lat_ne) * 1000,
        "node_exporter_p99_ms": percentile(lat_ne, 0.99) * 1000,
        "p50_ratio": statistics.median(lat_ours) / statistics.median(lat_ne),
        "ours_cpu_ms_per_collection": ours_cpu_per_collection * 1000,
        "node_exporter_cpu_ms_per_scrape": ne_cpu_per_scrape * 1000,
        "cpu_ratio": ours_cpu_per_collection / ne_cpu_per_scrape if ne_cpu_per_scrape else None,
        "rss_mb_samples": [round(x, 1) for x in mb],
        "rss_mb_start": round(mb[0], 1),
        "rss_mb_end": round(mb[-1], 1),
        "rss_growth_mb": round(mb[-1] - mb[0], 1),
        "node_exporter_collectors": "defaults" if args.node_exporter_defaults else ",".join(NODE_COLLECTORS),
        "python": sys.version.split()[0],
        "cpus": psutil.cpu_count(),
    }
    print(f"scrape latency over {args.scrapes} alternating scrapes (gzip, keep-alive):")
    print(f"  spark-exporter  p50 {result['ours_p50_ms']:.3f} ms  p99 {result['ours_p99_ms']:.3f} ms")
    print(f"  node_exporter   p50 {result['node_exporter_p50_ms']:.3f} ms  p99 {result['node_exporter_p99_ms']:.3f} ms")
    print(f"  p50 ratio ours/node_exporter: {result['p50_ratio']:.3f} (target <= 0.2)")
    print(f"CPU: ours {result['ours_cpu_ms_per_collection']:.2f} ms per collection, node_exporter "
          f"{result['node_exporter_cpu_ms_per_scrape']:.2f} ms per scrape, ratio {result['cpu_ratio']:.2f} "
          "(target <= 1)")
    print(f"RSS: {result['rss_mb_start']} MB -> {result['rss_mb_end']} MB after {args.rss_scrapes} scrapes "
          f"(samples {result['rss_mb_samples']}; target <= 60 MB and flat)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
