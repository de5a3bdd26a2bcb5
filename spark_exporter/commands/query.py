"""``spark-exporter query overview|nodes|node NODE|history NODE --duration 1h|network|spark|inference``.

Prints a readable table, or with ``--format json`` the same JSON the API serves. Exit status: 0 on
success, 1 when Prometheus is unreachable or rejects a query, 2 on bad input (including an unknown node).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass

from ..logs import setup_logging
from ..query.client import InvalidParameter, PrometheusError, UnknownNodeError
from ..query.connect import rollups_from_settings
from ..query.render import RENDER
from ..query.rollups import HISTORY_STEPS, Result, Rollups
from ..settings import ConfigError, Schema, Settings, query_schema
from ..settings.parser import Parser
from .runner import PROG, Command, fail, run

NAME = "query"
WHAT = ("overview", "nodes", "node", "history", "network", "spark", "inference")


def build_parser() -> Parser:
    """The settings flags go before or after the subcommand (the subcommand's copy leaves no default)."""
    schema = query_schema()
    p = Parser(prog=f"{PROG} {NAME}", description="Query cluster telemetry from Prometheus.")
    schema.add_arguments(p, grouped=True)
    sub = p.add_subparsers(dest="what", metavar="{" + ",".join(WHAT) + "}")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        schema.add_arguments(sp, suppress=True, grouped=True)
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


async def fetch(rollups: Rollups, ns: argparse.Namespace) -> Result:
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


@dataclass
class _Query:
    ns: argparse.Namespace
    cfg: Settings
    rollups: Rollups


def _schema(ns: argparse.Namespace) -> Schema:
    return query_schema()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> _Query:
    return _Query(ns, cfg, rollups_from_settings(cfg))


def _execute(q: _Query) -> int:
    if q.ns.what is None:
        raise ConfigError("a subcommand is required: " + ", ".join(WHAT))
    setup_logging("error", "logfmt")  # retries are noise here; the failure is printed
    try:
        result = asyncio.run(fetch(q.rollups, q.ns))
    except (InvalidParameter, UnknownNodeError) as e:
        return fail(COMMAND.prog, str(e), 2)
    except PrometheusError as e:
        return fail(COMMAND.prog, str(e), 1)
    doc = result.to_json()
    if q.cfg["format"] == "json":
        # The API serves a bare series list for history; print exactly that.
        print(json.dumps(doc["series"] if q.ns.what == "history" else doc, indent=2))
    else:
        print(RENDER[q.ns.what](doc))
    return 0


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute)


def main(argv: Sequence[str]) -> int:
    """``spark-exporter query``: print a rollup as text or JSON; exit status 0, 1 or 2."""
    return run(COMMAND, argv)
