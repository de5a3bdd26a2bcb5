"""The fleet simulator's command line: ``python -m spark_exporter.commands.fleet --nodes N --ports-file FILE``.

Not a ``spark-exporter`` subcommand: ``spark-exporter demo --nodes N`` starts it past
:data:`~spark_exporter.exporter.fleet.PROCESS_PER_NODE_MAX` nodes, and ``bench/fleet.py`` for 2 to 256.
It serves ``--nodes`` simulated nodes (:mod:`spark_exporter.exporter.fleet`) on free loopback ports,
writes ``{"nodes": {"spark-001": PORT, ...}}`` to ``--ports-file`` once every node listens, and serves
until SIGINT or SIGTERM. Exit status 0, 1 when a port cannot be bound, 2 on bad settings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..exporter.fleet import serve_fleet, write_ports
from ..settings import ConfigError, Schema, Settings, fleet_schema
from ..settings.parser import Parser
from .runner import Command, fail, os_reason, run

NAME = "fleet"
FLEET_PROG = "python -m spark_exporter.commands.fleet"


def build_parser() -> Parser:
    """The fleet simulator's parser: ``--nodes``, ``--profile``, ``--ports-file``."""
    parser = Parser(prog=FLEET_PROG, description="Serve many simulated nodes (the exporter's own app, one loopback "
                    "port each) from one process, for the demo past 16 nodes and bench/fleet.py.")
    parser.set_defaults(prog=FLEET_PROG)
    fleet_schema().add_arguments(parser)
    return parser


@dataclass
class _Fleet:
    nodes: int
    profile: str
    ports_file: Path


def _schema(ns: argparse.Namespace) -> Schema:
    return fleet_schema()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> _Fleet:
    if cfg["ports-file"] is None:
        raise ConfigError("--ports-file is required (or SPARK_EXPORTER_PORTS_FILE, or ports-file: in --config.file)")
    ports_file = Path(cfg["ports-file"])
    if not ports_file.parent.is_dir():
        raise ConfigError(f"--ports-file {ports_file}: no directory {ports_file.parent}")
    return _Fleet(cfg["nodes"], cfg["profile"], ports_file)


def _execute(f: _Fleet) -> int:
    stop = asyncio.Event()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_fleet(f.nodes, f.profile, stop, lambda ports: write_ports(f.ports_file, ports))

    try:
        asyncio.run(serve())
    except OSError as e:
        return fail(FLEET_PROG, f"cannot listen: {os_reason(e)}")
    return 0


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute)


def main(argv: Sequence[str]) -> int:
    """Serve the fleet until SIGINT/SIGTERM: exit 0, 1 when a port cannot be bound, 2 on bad settings."""
    return run(COMMAND, argv)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
