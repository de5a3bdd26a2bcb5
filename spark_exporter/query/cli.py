"""``spark-exporter query overview|nodes|node NODE|history NODE --duration 1h|network|spark|inference``.

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

from ..logs import setup_logging
from ..settings import ConfigError, query_schema
from .client import InvalidParameter, PrometheusError, UnknownNodeError
from .connect import rollups_from_settings
from .render import RENDER, fmt, render_history, render_network, render_node, render_nodes, render_overview, table
from .rollups import HISTORY_STEPS, Result, Rollups

__all__ = ["RENDER", "fmt", "main", "render_history", "render_network", "render_node", "render_nodes",
           "render_overview", "table"]

PROG = "spark-exporter query"
WHAT = ("overview", "nodes", "node", "history", "network", "spark", "inference")


def _parser() -> argparse.ArgumentParser:
    """The settings flags go before or after the subcommand (the subcommand's copy leaves no default)."""
    schema = query_schema()
    p = argparse.ArgumentParser(prog=PROG, description="Query cluster telemetry from Prometheus.")
    schema.add_arguments(p)
    sub = p.add_subparsers(dest="what", metavar="{" + ",".join(WHAT) + "}")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        schema.add_arguments(sp, suppress=True)
        return sp

    add("overview", "cluster overview")
    add("nodes", "every node with health and a GPU summary")
    add("node", "GPU metrics of one node").add_argument("node", help="node name, as in the inventory")
    hist = add("history", "GPU utilisation history of one node")
    hist.add_argument("node", help="node name, as in the inventory")
    hist.add_argument("--duration", default="1h", choices=tuple(HISTORY_STEPS),
                      help="how far back (default %(default)s)")
    add("network", "network throughput per node and physical interface").add_argument(
        "--node", default=None, help="only this node (default: every node)")
    add("spark", "Spark applications running, with the cluster's Spark totals")
    add("inference", "inference (vLLM, SGLang, llama.cpp) per node, engine and model, with the cluster's totals")
    return p


async def run(rollups: Rollups, ns: argparse.Namespace) -> Result:
    """The rollup result for ``ns.what`` (overview, nodes, node, history, spark, inference, network);
    the client is closed afterwards. PrometheusError subclasses propagate.
    """
    try:
        if ns.what == "overview":
            return await rollups.cluster_overview()
        if ns.what == "nodes":
            return await rollups.nodes()
        if ns.what == "node":
            return await rollups.node_gpu_metrics(ns.node)
        if ns.what == "history":
            return await rollups.gpu_utilization_history(ns.node, ns.duration)
        if ns.what == "spark":
            return await rollups.spark_applications()
        if ns.what == "inference":
            return await rollups.inference()
        return await rollups.network_stats(ns.node)
    finally:
        await rollups.client.close()


def main(argv: Sequence[str]) -> int:
    """``spark-exporter query``: print a rollup as text or JSON.

    Exit status 0, 1 (Prometheus failed) or 2 (bad settings, invalid or unknown node).
    """
    parser = _parser()
    try:
        ns, cfg = query_schema().parse_args(parser, argv, os.environ)
        rollups = rollups_from_settings(cfg)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        return 0
    if ns.what is None:
        parser.error("a subcommand is required: " + ", ".join(WHAT))
    setup_logging("error", "logfmt")  # retries are noise here; the failure is printed
    try:
        result = asyncio.run(run(rollups, ns))
    except (InvalidParameter, UnknownNodeError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except PrometheusError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    doc = result.to_json()
    if cfg["format"] == "json":
        # The API serves a bare series list for history; print exactly that.
        print(json.dumps(doc["series"] if ns.what == "history" else doc, indent=2))
    else:
        print(RENDER[ns.what](doc))
    return 0
