"""JSON API benchmark: throughput, Prometheus load as polling clients grow, overview latency.

Runs a simulated two-node GB10 cluster (real Prometheus, generated config, rules/) and the API as a
separate process, then measures:

1. API requests per second on ``/api/v1/cluster/overview`` (cached) with --concurrency clients.
2. Prometheus instant queries issued while 1, 100 and 1000 clients each poll the overview every
   --poll-interval seconds for --window seconds (the Command Center polls every 5 s). The count comes
   from Prometheus' own ``prometheus_http_requests_total``, not from the API.
3. Latency p50/p99, interleaved request by request so that every variant sees the same load: one raw
   Prometheus query (``avg(DCGM_FI_DEV_GPU_UTIL)``); the spec's own ``clusterOverview`` (its four
   Prometheus queries issued in parallel by one client); the overview rollup uncached (via the query
   module); the API overview cached and uncached.
4. The same uncached comparison against a Prometheus without our recording rules (the overview then
   answers from the raw series), unless --skip-no-rules.

    .venv/bin/python bench/bench_api.py [--window 20] [--samples 300] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.cluster import simulated_cluster  # noqa: E402
from helpers.procs import PYTHON, free_port, http_get, parse_metrics, start_process, tempdir, wait_for  # noqa: E402
from spark_exporter.query import PrometheusClient, Rollups  # noqa: E402

OVERVIEW = "/api/v1/cluster/overview"


def prom_query_count(prom_url: str) -> float:
    _, body, _ = http_get(prom_url + "/metrics")
    fam = parse_metrics(body.decode())["prometheus_http_requests"]
    return sum(
        s.value
        for s in fam.samples
        if s.name.endswith("_total") and s.labels.get("handler") in ("/api/v1/query", "/api/v1/query_range")
    )


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def throughput(url: str, concurrency: int, seconds: float) -> float:
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.get(url) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def polling(url: str, clients: int, interval: float, window: float) -> tuple[int, int]:
    """``clients`` pollers, each GET every ``interval`` s from a random phase; returns (ok, errors)."""
    ok = errors = 0
    deadline = time.monotonic() + window
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def poller() -> None:
            nonlocal ok, errors
            await asyncio.sleep(random.uniform(0, interval))
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                try:
                    async with session.get(url) as resp:
                        await resp.read()
                        ok, errors = (ok + 1, errors) if resp.status == 200 else (ok, errors + 1)
                except aiohttp.ClientError:
                    errors += 1
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - t0)))

        await asyncio.gather(*(poller() for _ in range(clients)))
    return ok, errors


SPEC_OVERVIEW = (  # the spec's clusterOverview: four queries, issued in parallel (Promise.all)
    "cluster:gpu_utilization:avg",
    "cluster:memory_used_bytes:sum",
    "cluster:power_watts:sum",
    "spark_job_numActiveTasks",
)


async def interleaved(fns: dict[str, Any], samples: int, warmup: int = 20) -> dict[str, list[float]]:
    """Latency in ms of each fn, ``samples`` times, taking turns so drift in load hits all alike."""
    out: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + samples):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            await fn()
            if i >= warmup:
                out[name].append((time.perf_counter() - t0) * 1000)
    return out


def summary(results: dict[str, list[float]], base: str) -> dict[str, dict[str, float]]:
    p50_base = pct(results[base], 50)
    return {
        k: {
            "p50_ms": round(pct(v, 50), 2),
            "p99_ms": round(pct(v, 99), 2),
            "p50_ratio": round(pct(v, 50) / p50_base, 2),
        }
        for k, v in results.items()
    }


SPEC = "spec clusterOverview: 4 queries in parallel"
API_UNCACHED = "API overview, uncached (ttl 0)"


async def latency_suite(
    prom_url: str, api_cached: str | None, api_uncached: str, cluster: Any, samples: int
) -> dict[str, dict[str, float]]:
    """Latencies of each variant; ``p50_ratio`` is relative to the spec's clusterOverview."""
    async with aiohttp.ClientSession() as session, PrometheusClient(prom_url) as client:
        rollups = Rollups(client, cluster.inventory, scrape_interval=1.0)

        async def prom(query: str) -> None:
            async with session.get(prom_url + "/api/v1/query", params={"query": query}) as r:
                await r.read()
                assert r.status == 200, r.status

        async def spec() -> None:
            await asyncio.gather(*(prom(q) for q in SPEC_OVERVIEW))

        async def api(url: str) -> None:
            async with session.get(url) as r:
                await r.read()
                assert r.status == 200, r.status

        fns: dict[str, Any] = {
            "one raw Prometheus query": lambda: prom("avg(DCGM_FI_DEV_GPU_UTIL)"),
            SPEC: spec,
            "overview rollup, uncached (query module)": rollups.cluster_overview,
            API_UNCACHED: lambda: api(api_uncached),
        }
        if api_cached is not None:
            fns["API overview, cached"] = lambda: api(api_cached)
        return summary(await interleaved(fns, samples), SPEC)


def start_api(cluster: Any, d: Path, name: str, *args: str) -> Any:
    port = free_port()
    argv = [
        PYTHON,
        "-m",
        "spark_exporter",
        "api",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--prometheus.url={cluster.prometheus_url}",
        f"--inventory={cluster.inventory_path}",
        "--api.rate-limit=0",
        "--log.level=warn",
        *args,
    ]
    return start_process(name, argv, port, d, f"http://127.0.0.1:{port}/-/healthy")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=float, default=20.0, help="seconds per polling level")
    ap.add_argument("--poll-interval", type=float, default=5.0)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--json", default=None)
    ap.add_argument("--skip-no-rules", action="store_true", help="skip the run against a Prometheus without rules")
    ns = ap.parse_args()
    report: dict[str, Any] = {}
    with simulated_cluster(2, interval="1s") as cluster, tempdir("bench-api") as d:
        cached = start_api(cluster, d, "api-cached", "--api.cache-ttl=5s")
        uncached = start_api(cluster, d, "api-uncached", "--api.cache-ttl=0s")
        try:
            wait_for(lambda: json.loads(http_get(cached.url + OVERVIEW)[1])["nodesUp"] == 2, timeout=60)
            report["api_requests_per_second"] = round(
                asyncio.run(throughput(cached.url + OVERVIEW, ns.concurrency, 10.0)), 1
            )
            report["polling"] = []
            for clients in (1, 100, 1000):
                before = prom_query_count(cluster.prometheus_url)
                ok, errors = asyncio.run(polling(cached.url + OVERVIEW, clients, ns.poll_interval, ns.window))
                issued = prom_query_count(cluster.prometheus_url) - before
                report["polling"].append(
                    {
                        "clients": clients,
                        "api_requests_ok": ok,
                        "api_errors": errors,
                        "prometheus_queries": int(issued),
                        "prometheus_queries_per_ttl": round(issued / (ns.window / 5.0), 2),
                    }
                )
            report["latency"] = asyncio.run(
                latency_suite(
                    cluster.prometheus_url,
                    cached.url + OVERVIEW,
                    uncached.url + OVERVIEW,
                    cluster,
                    ns.samples,
                )
            )
        finally:
            cached.stop()
            uncached.stop()
    if not ns.skip_no_rules:
        with simulated_cluster(2, interval="1s", rule_files=False) as cluster, tempdir("bench-api-raw") as d:
            uncached = start_api(cluster, d, "api-uncached-raw", "--api.cache-ttl=0s")
            try:
                wait_for(lambda: json.loads(http_get(uncached.url + OVERVIEW)[1])["nodesUp"] == 2, timeout=60)
                wait_for(lambda: json.loads(http_get(uncached.url + OVERVIEW)[1])["powerDrawW"], timeout=60)
                report["latency_without_rules"] = asyncio.run(
                    latency_suite(cluster.prometheus_url, None, uncached.url + OVERVIEW, cluster, ns.samples)
                )
            finally:
                uncached.stop()
    print(json.dumps(report, indent=2))
    if ns.json:
        Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
