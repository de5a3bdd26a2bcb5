"""``spark-exporter query overview|nodes|node NODE|history NODE --duration 1h|network``.

Prints a readable table, or with ``--format json`` the same JSON the API serves. Exit status: 0 on
success, 1 when Prometheus is unreachable or rejects a query, 2 on bad input (including an unknown node).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from ..logs import setup_logging
from ..settings import ConfigError, parse_duration
from .api import DEFAULT_PROMETHEUS, make_rollups
from .client import InvalidParameter, PrometheusError, UnknownNodeError
from .rollups import HISTORY_STEPS, Result, Rollups

PROG = "spark-exporter query"


def _common(suppress: bool) -> argparse.ArgumentParser:
    """The shared flags, also on each subcommand (defaults suppressed there): before or after it."""
    env = os.environ.get

    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "--prometheus.url",
        dest="prometheus_url",
        default=d(env("SPARK_EXPORTER_PROMETHEUS_URL", DEFAULT_PROMETHEUS)),
        help=f"Prometheus-compatible query URL (env SPARK_EXPORTER_PROMETHEUS_URL; default "
        f"{DEFAULT_PROMETHEUS}).",
    )
    p.add_argument(
        "--inventory",
        default=d(env("SPARK_EXPORTER_INVENTORY")),
        help="Inventory file; node names are checked against it (else against Prometheus).",
    )
    p.add_argument("--format", choices=("table", "json"), default=d("table"))
    p.add_argument("--prometheus.timeout", dest="timeout", default=d("5s"))
    p.add_argument(
        "--prometheus.scrape-interval",
        dest="scrape_interval",
        default=d("15s"),
        help="Scrape interval; a target silent for twice this is stale (default 15s).",
    )
    return p


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Query cluster telemetry from Prometheus.", parents=[_common(False)]
    )
    sub = p.add_subparsers(dest="what", required=True, metavar="{overview,nodes,node,history,network}")
    common = [_common(True)]
    sub.add_parser("overview", help="cluster overview", parents=common)
    sub.add_parser("nodes", help="every node with health and a GPU summary", parents=common)
    node = sub.add_parser("node", help="GPU metrics of one node", parents=common)
    node.add_argument("node")
    hist = sub.add_parser("history", help="GPU utilisation history of one node", parents=common)
    hist.add_argument("node")
    hist.add_argument("--duration", default="1h", choices=tuple(HISTORY_STEPS))
    net = sub.add_parser("network", help="network throughput per node and physical interface", parents=common)
    net.add_argument("--node", default=None)
    return p


def fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    """A figure for the table; None shows as 'n/a', never as 0."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def render_overview(d: dict[str, Any]) -> str:
    rows = [
        ["cluster", fmt(d["cluster"])],
        ["nodes up", f"{fmt(d['nodesUp'])} / {fmt(d['nodesTotal'])}"],
        ["GPU utilisation", fmt(d["gpuUtilization"], " %")],
        ["GPU memory used", f"{fmt(d['memoryUsedGB'], ' GiB')} of {fmt(d['memoryTotalGB'], ' GiB')}"],
        ["GPU power", fmt(d["powerDrawW"], " W")],
        ["hottest GPU", fmt(d["maxGpuTemperatureC"], " C")],
        ["Spark jobs / tasks", f"{fmt(d['activeJobs'])} / {fmt(d['activeTasks'])}"],
        [
            "vLLM running / waiting",
            f"{fmt(d['vllmRequestsRunning'], '', 0)} / {fmt(d['vllmRequestsWaiting'], '', 0)}",
        ],
        ["vLLM tokens/s", fmt(d["vllmGenerationTokensPerSec"])],
        ["firing alerts", fmt(d["firingAlerts"])],
    ]
    out = table(rows)
    for t in d["downTargets"]:
        out += f"\nDOWN   {t['node'] or '?'} {t['job']} {t['instance']}"
    for t in d["staleTargets"]:
        age = t["lastScrapeAgeSeconds"]
        out += f"\nSTALE  {t['node'] or '?'} {t['job']} {t['instance']} (last scrape {age}s ago)"
    return out + _footer(d)


def render_nodes(d: dict[str, Any]) -> str:
    rows = [["NODE", "UP", "GPUS", "UTIL", "TEMP", "POWER", "GPU MEM", "CPU"]]
    for n in d["nodes"]:
        state = "stale" if n["stale"] else fmt(n["up"])
        rows.append(
            [
                n["node"],
                state,
                fmt(n["gpuCount"]),
                fmt(n["utilization"], " %"),
                fmt(n["temperature"], " C"),
                fmt(n["powerDraw"], " W"),
                fmt(n["memoryUsedMB"], " MiB", 0),
                fmt(None if n["cpuUtilization"] is None else n["cpuUtilization"] * 100, " %"),
            ]
        )
    return table(rows) + _footer(d)


def render_node(d: dict[str, Any]) -> str:
    head = (
        f"node {d['node']}: up={fmt(d['up'])} stale={fmt(d['stale'])} util={fmt(d['utilization'], ' %')} "
        f"temp={fmt(d['temperature'], ' C')} power={fmt(d['powerDraw'], ' W')} "
        f"mem used={fmt(d['memoryUsedMB'], ' MiB', 0)} free={fmt(d['memoryFreeMB'], ' MiB', 0)} "
        f"({fmt(d['memorySource'])})"
    )
    rows = [["GPU", "MODEL", "UTIL", "TEMP", "POWER", "MEM USED", "SM CLOCK"]]
    for g in d["gpus"]:
        rows.append(
            [
                g["gpu"],
                fmt(g["modelName"]),
                fmt(g["utilization"], " %"),
                fmt(g["temperature"], " C"),
                fmt(g["powerDraw"], " W"),
                fmt(g["memoryUsedMB"], " MiB", 0),
                fmt(g["smClockMHz"], " MHz", 0),
            ]
        )
    return head + "\n" + table(rows) + _footer(d)


def render_history(d: dict[str, Any]) -> str:
    lines = [f"node {d['node']}: GPU utilisation over {d['duration']}, step {d['step']}s"]
    for s in d["series"]:
        vals = [p["value"] for p in s["values"] if p["value"] is not None]
        label = ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items()))
        if vals:
            lines.append(
                f"{label}: {len(s['values'])} points, min {min(vals):.1f} %, "
                f"avg {sum(vals) / len(vals):.1f} %, max {max(vals):.1f} %, last {vals[-1]:.1f} %"
            )
        else:
            lines.append(f"{label}: {len(s['values'])} points, no values")
    return "\n".join(lines) + _footer(d)


def render_network(d: dict[str, Any]) -> str:
    rows = [["NODE", "DEVICE", "LINK", "RX B/s", "TX B/s"]]
    for i in d["interfaces"]:
        rows.append(
            [
                i["node"],
                i["device"],
                fmt(i["up"]),
                fmt(i["rxBytesPerSec"], "", 0),
                fmt(i["txBytesPerSec"], "", 0),
            ]
        )
    rows.append(["total", "", "", fmt(d["rxBytesPerSec"], "", 0), fmt(d["txBytesPerSec"], "", 0)])
    return table(rows) + _footer(d)


def _footer(d: dict[str, Any]) -> str:
    out = "".join(f"\nmissing {k}: {v}" for k, v in d.get("missing", {}).items())
    out += "".join(f"\nwarning: {w}" for w in d.get("warnings", []))
    return out + ("\nwarning: partial response" if d.get("partial") else "")


RENDER = {
    "overview": render_overview,
    "nodes": render_nodes,
    "node": render_node,
    "history": render_history,
    "network": render_network,
}


async def run(rollups: Rollups, ns: argparse.Namespace) -> Result:
    try:
        if ns.what == "overview":
            return await rollups.cluster_overview()
        if ns.what == "nodes":
            return await rollups.nodes()
        if ns.what == "node":
            return await rollups.node_gpu_metrics(ns.node)
        if ns.what == "history":
            return await rollups.gpu_utilization_history(ns.node, ns.duration)
        return await rollups.network_stats(ns.node)
    finally:
        await rollups.client.close()


def main(argv: Sequence[str]) -> int:
    ns = _parser().parse_args(list(argv))
    setup_logging("error", "logfmt")  # retries are noise here; the failure is printed
    try:
        rollups = make_rollups(
            ns.prometheus_url, ns.inventory, parse_duration(ns.timeout), parse_duration(ns.scrape_interval)
        )
    except (ConfigError, ValueError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(run(rollups, ns))
    except (InvalidParameter, UnknownNodeError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except PrometheusError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    doc = result.to_json()
    if ns.format == "json":
        # The API serves a bare series list for history; print exactly that.
        print(json.dumps(doc["series"] if ns.what == "history" else doc, indent=2))
    else:
        print(RENDER[ns.what](doc))
    return 0
