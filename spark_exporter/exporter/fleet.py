"""A fleet of simulated nodes from one process: the exporter's own app once per node, one loopback port each.

``spark-exporter demo --nodes N`` runs it for more than :data:`PROCESS_PER_NODE_MAX` nodes, and
``bench/fleet.py`` for 2 to 256, so that a fleet's cost can be measured on a small machine. Node ``i``
(from 0) is a real :class:`~.collection.Collection` with the collectors in :data:`FLEET_COLLECTORS` (the
GPU on the simulator with ``--gpu.seed=i+1``; CPU and memory read this machine, as the demo's exporters
do), served by :func:`.app.build_app` exactly as the daemon serves it. Only the process is shared.

Its command line is :mod:`spark_exporter.commands.fleet`:

    python -m spark_exporter.commands.fleet --nodes 64 --ports-file fleet.json

writes ``{"nodes": {"spark-001": PORT, ...}}`` to the ports file once every node listens, and serves
until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from ..collectors import load_all
from ..http.server import Limits
from ..http.webconfig import WebConfig
from ..settings import MAX_SIMULATED_NODES
from .app import build_app
from .collection import Collection
from .daemon import load_config, make_collectors

MAX_NODES = MAX_SIMULATED_NODES
PROCESS_PER_NODE_MAX = 16  # the demo runs one daemon per node up to this many nodes, then one fleet process
#: What the API's overview and node list read per node: GPU figures, CPU utilisation, memory.
FLEET_COLLECTORS = ("gpu", "cpu", "meminfo")
HOST = "127.0.0.1"  # loopback only: the simulator has no authentication


def node_names(count: int) -> list[str]:
    """``spark-01`` ... for up to 99 nodes, ``spark-001`` ... beyond (names sort in node order)."""
    width = max(2, len(str(count)))
    return [f"spark-{i + 1:0{width}d}" for i in range(count)]


def node_argv(index: int, profile: str) -> list[str]:
    """The daemon flags of node ``index`` (from 0): the simulator seeded ``index + 1``, FLEET_COLLECTORS only."""
    others = sorted(name for name in load_all() if name not in FLEET_COLLECTORS)
    return [f"--gpu.simulate={profile}", f"--gpu.seed={index + 1}", *(f"--no-collector.{n}" for n in others)]


async def serve_fleet(count: int, profile: str, stop: asyncio.Event,
                      on_ready: Callable[[dict[str, int]], None]) -> None:
    """Serve ``count`` simulated nodes on free loopback ports until ``stop``; ``on_ready`` gets name -> port.

    Raises ValueError for a count outside 1..MAX_NODES, ConfigError for an unknown profile, OSError when a
    port cannot be bound; every node started so far is closed again on the way out.
    """
    if not 1 <= count <= MAX_NODES:
        raise ValueError(f"nodes must be between 1 and {MAX_NODES}, got {count}")
    runners: list[web.AppRunner] = []
    collections: list[Collection] = []
    ports: dict[str, int] = {}
    try:
        for i, name in enumerate(node_names(count)):
            cfg = load_config(node_argv(i, profile), environ={})
            collection = Collection(make_collectors(cfg), timeout=cfg["collect.timeout"],
                                    min_age=cfg["collect.min-age"], extra_info={"node": name})
            collections.append(collection)
            runner = web.AppRunner(build_app(collection, cfg.telemetry_path, WebConfig(),
                                             Limits.from_values(cfg.values)), handle_signals=False)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, HOST, 0).start()
            ports[name] = int(runner.addresses[0][1])
        on_ready(ports)
        await stop.wait()
    finally:
        for runner in runners:
            await runner.cleanup()
        for collection in collections:
            collection.stop()


def write_ports(path: Path, ports: dict[str, int]) -> None:
    """Write ``{"nodes": {name: port}}`` to ``path`` atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"nodes": ports}))
    tmp.replace(path)
