"""GPU collector benchmark: collection cost per GPU on the simulator, and scrape latency with h100x8.

1. In-process: ``collect()`` + ``render()`` of the gpu collector for gb10, h100 and h100x8, --runs times
   each (PCIe sampling excluded: it runs in its own thread; here it is off). Prints median and p99 per
   collection and per GPU. The simulator's own cost is included, so this overstates the collector's.
2. Two daemons: ``--gpu.simulate=h100x8`` and host-only ``--no-collector.gpu``, each with the same host
   collectors, scraped alternately over keep-alive connections with gzip, --scrapes times each. Prints
   p50 / p99 of each.

    .venv/bin/python bench/bench_gpu.py [--runs 500] [--scrapes 1000] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.procs import exporter  # noqa: E402
from spark_exporter.collectors.base import Paths  # noqa: E402
from spark_exporter.collectors.gpu import GpuCollector  # noqa: E402
from spark_exporter.exporter.daemon import load_config  # noqa: E402
from spark_exporter.exporter.exposition import render  # noqa: E402
from spark_exporter.logs import setup_logging  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def bench_collect(profile: str, runs: int) -> dict[str, Any]:
    cfg = load_config([f"--gpu.simulate={profile}", "--gpu.pcie-interval=0"], environ={})
    c = GpuCollector(cfg, Paths())
    try:
        body = render(list(c.collect()))  # warm-up: discovery, threads
        gpus = len(c._devices or [])
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            body = render(list(c.collect()))
            times.append(time.perf_counter() - t0)
    finally:
        c.close()
    med, p99 = statistics.median(times), percentile(times, 0.99)
    return {"profile": profile, "gpus": gpus, "runs": runs, "bytes": len(body),
            "median_ms": med * 1e3, "p99_ms": p99 * 1e3, "median_ms_per_gpu": med * 1e3 / gpus}


class Scraper:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def scrape(self) -> tuple[float, int]:
        t0 = time.perf_counter()
        self.conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})
        resp = self.conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"scrape failed: {resp.status}")
        return elapsed, len(body)


def bench_scrape(scrapes: int) -> dict[str, Any]:
    common = ("--collect.min-age=0s",)  # every scrape collects, as at a 15 s Prometheus interval
    with exporter("--gpu.simulate=h100x8", *common) as gpu, exporter("--no-collector.gpu", *common) as host:
        scrapers = {"h100x8": Scraper(gpu.port), "host-only": Scraper(host.port)}
        lat: dict[str, list[float]] = {k: [] for k in scrapers}
        size: dict[str, int] = {}
        for _ in range(20):  # warm-up
            for s in scrapers.values():
                s.scrape()
        for _ in range(scrapes):
            for name, s in scrapers.items():
                elapsed, size[name] = s.scrape()
                lat[name].append(elapsed)
    return {name: {"scrapes": scrapes, "gzip_bytes": size[name], "p50_ms": percentile(v, 0.5) * 1e3,
                   "p99_ms": percentile(v, 0.99) * 1e3} for name, v in lat.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--scrapes", type=int, default=1000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    setup_logging("error")
    collect = [bench_collect(p, args.runs) for p in ("gb10", "h100", "h100x8")]
    for r in collect:
        print(f"collect+render {r['profile']:7} gpus={r['gpus']} median={r['median_ms']:.2f} ms "
              f"p99={r['p99_ms']:.2f} ms per-gpu={r['median_ms_per_gpu']:.2f} ms bytes={r['bytes']}")
    scrape = bench_scrape(args.scrapes)
    for name, r in scrape.items():
        print(f"scrape {name:9} p50={r['p50_ms']:.3f} ms p99={r['p99_ms']:.3f} ms "
              f"gzip_bytes={r['gzip_bytes']}")
    if args.json:
        args.json.write_text(json.dumps({"collect": collect, "scrape": scrape}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
