"""Cost as the fleet grows: the API's uncached overview and node list at 2, 16, 64 and 256 nodes, side by side.

For each size, in one run: the fleet simulator (``python -m spark_exporter.commands.fleet``, one process
serving every node), a real Prometheus with the generated prometheus.yml and rules/, and the JSON API
(``spark-exporter api``, cache off, rate limit off) as separate processes. Once the overview shows every
node up and the rules have answered, a "page poll" (the Command Center's two polled rollups,
``/api/v1/cluster/overview`` then ``/api/v1/nodes``) is repeated ``--polls`` times, and it reports:

- overview and node-list latency, p50 and p95 (ms, client side, uncached);
- Prometheus queries per poll, from Prometheus' own ``prometheus_http_requests_total`` (query and
  query_range handlers), which the API's ``spark_exporter_api_upstream_queries_total`` must equal;
- the API process's CPU per poll (ms, user + system from /proc/PID/stat);
- the overview's own PromQL asked of Prometheus directly (p50, ms, same client), which splits an
  overview's time into Prometheus' part and the API's (decoding, mapping, JSON).

    .venv/bin/python bench/fleet.py [--sizes 2,16,64,256] [--polls 100] [--scrape-interval 15s] [--json out.json]

Targets (issue 23): queries per poll independent of the node count; overview p50 at 256 nodes at most
3x that at 2 nodes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.procs import (  # noqa: E402
    PYTHON,
    free_port,
    http_get,
    parse_metrics,
    prom_query,
    prometheus,
    start_process,
    tempdir,
    wait_for,
)
from spark_exporter.exporter.fleet import MAX_NODES  # noqa: E402
from spark_exporter.prometheus.inventory import load_inventory  # noqa: E402
from spark_exporter.prometheus.promconfig import build_prometheus_config, check_prom_duration  # noqa: E402
from spark_exporter.query.queries import OVERVIEW_AGGREGATE_ABOVE, OVERVIEW_GPU_FIGURES, Queries  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` so far (s), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def prometheus_queries(prom_url: str) -> float:
    fam = parse_metrics(http_get(prom_url + "/metrics")[1].decode())["prometheus_http_requests"]
    return sum(s.value for s in fam.samples
               if s.name.endswith("_total") and s.labels.get("handler") in ("/api/v1/query", "/api/v1/query_range"))


def api_upstream(api_url: str) -> float:
    fam = parse_metrics(http_get(api_url + "/metrics")[1].decode())["spark_exporter_api_upstream_queries"]
    return sum(s.value for s in fam.samples if s.name.endswith("_total"))


@contextlib.contextmanager
def fleet(nodes: int, workdir: Path) -> Iterator[dict[str, int]]:
    ports_file = workdir / "ports.json"
    with open(workdir / "fleet.log", "wb") as log:
        popen = subprocess.Popen([PYTHON, "-m", "spark_exporter.commands.fleet", f"--nodes={nodes}",
                                  f"--ports-file={ports_file}"], stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        wait_for(lambda: popen.poll() is None and ports_file.exists(), 300, 0.5, f"the fleet of {nodes}")
        yield dict(json.loads(ports_file.read_text())["nodes"])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        try:
            popen.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait(10)


def get_json(url: str) -> tuple[float, Any]:
    t0 = time.perf_counter()
    status, body, _ = http_get(url, timeout=60)
    ms = (time.perf_counter() - t0) * 1000
    if status != 200:
        raise RuntimeError(f"{url}: HTTP {status}: {body[:200]!r}")
    return ms, json.loads(body)


def measure(nodes: int, polls: int, interval: str) -> dict[str, Any]:
    with tempdir(f"fleet-{nodes}") as d, fleet(nodes, d) as ports:
        inventory_path = d / "inventory.yml"
        inventory_path.write_text(yaml.safe_dump({"cluster": "bench", "nodes": [
            {"name": name, "exporter": f"127.0.0.1:{port}"} for name, port in ports.items()]}))
        config = build_prometheus_config(load_inventory(str(inventory_path)), [], interval, interval)
        with prometheus(config, rule_files=sorted((ROOT / "rules").glob("*.yml"))) as prom:
            port = free_port()
            api = start_process("api", [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                                        f"--prometheus.url={prom.url}", f"--inventory={inventory_path}",
                                        f"--prometheus.scrape-interval={interval}", "--api.cache-ttl=0s",
                                        "--api.rate-limit=0"], port, d, f"http://127.0.0.1:{port}/-/healthy")
            try:
                overview_url, nodes_url = api.url + "/api/v1/cluster/overview", api.url + "/api/v1/nodes"

                def ready() -> bool:
                    # Every overview recording rule evaluated, so no poll falls back to raw series.
                    if not all(prom_query(prom.url, fig.rule) for fig in OVERVIEW_GPU_FIGURES):
                        return False
                    ov = get_json(overview_url)[1]
                    listed = get_json(nodes_url)[1]["nodes"]
                    return (ov.get("nodesUp") == nodes and ov.get("gpuUtilization") is not None
                            and sum(n["utilization"] is not None for n in listed) == nodes)

                wait_for(ready, 300, 2.0, f"{nodes} nodes up with GPU figures")
                for _ in range(5):  # warm-up
                    get_json(overview_url), get_json(nodes_url)
                queries0, upstream0 = prometheus_queries(prom.url), api_upstream(api.url)
                cpu0 = cpu_seconds(api.popen.pid)
                ov_ms: list[float] = []
                nodes_ms: list[float] = []
                for _ in range(polls):
                    ov_ms.append(get_json(overview_url)[0])
                    nodes_ms.append(get_json(nodes_url)[0])
                cpu = cpu_seconds(api.popen.pid) - cpu0
                upstream = api_upstream(api.url) - upstream0
                queries = prometheus_queries(prom.url) - queries0
                # The overview's PromQL asked directly, after the polls (not counted in queries per poll), in
                # the form the API chose for this fleet size.
                q = Queries("bench")
                names = load_inventory(str(inventory_path)).names
                promql = q.overview(30.0, names) if nodes > OVERVIEW_AGGREGATE_ABOVE else q.overview_samples()
                query_url = prom.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
                prom_ms = [get_json(query_url)[0] for _ in range(polls)]
            finally:
                api.stop()
    return {"nodes": nodes, "overview_p50_ms": pct(ov_ms, 50), "overview_p95_ms": pct(ov_ms, 95),
            "nodes_p50_ms": pct(nodes_ms, 50), "nodes_p95_ms": pct(nodes_ms, 95),
            "queries_per_poll": queries / polls, "api_upstream_per_poll": upstream / polls,
            "api_cpu_ms_per_poll": cpu * 1000 / polls, "overview_query_p50_ms": pct(prom_ms, 50)}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| nodes | overview p50 / p95 (ms) | node list p50 / p95 (ms) | Prometheus queries per poll "
             "| API CPU per poll (ms) | overview's query alone p50 (ms) |", "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['nodes']} | {r['overview_p50_ms']:.1f} / {r['overview_p95_ms']:.1f} "
                     f"| {r['nodes_p50_ms']:.1f} / {r['nodes_p95_ms']:.1f} | {r['queries_per_poll']:g} "
                     f"| {r['api_cpu_ms_per_poll']:.1f} | {r['overview_query_p50_ms']:.1f} |")
    return "\n".join(lines)


def sizes(text: str) -> list[int]:
    """``--sizes``: comma-separated node counts, each 1..MAX_NODES; argparse turns the error into one line."""
    try:
        out = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected node counts like 2,16,64,256, got {text!r}") from None
    if not all(1 <= n <= MAX_NODES for n in out):
        raise argparse.ArgumentTypeError(f"every size must be between 1 and {MAX_NODES}, got {text!r}")
    return out


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def duration(text: str) -> str:
    try:
        return check_prom_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=sizes, default=[2, 16, 64, 256], help="node counts (default 2,16,64,256)")
    parser.add_argument("--polls", type=positive_int, default=100)
    parser.add_argument("--scrape-interval", type=duration, default="15s")
    parser.add_argument("--json", type=Path)
    ns = parser.parse_args()
    rows = []
    for n in ns.sizes:
        row = measure(n, ns.polls, ns.scrape_interval)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(table(rows))
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['nodes']} nodes: overview p50 {r['overview_p50_ms'] / base['overview_p50_ms']:.2f}x "
              f"that at {base['nodes']}; queries per poll {r['queries_per_poll']:g} vs {base['queries_per_poll']:g}")
    if ns.json:
        ns.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
