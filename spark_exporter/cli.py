"""The ``spark-exporter`` command: no subcommand runs the daemon (:mod:`spark_exporter.exporter.main`);
the subcommands are config, query, api, demo and gpu, each a module with ``main(argv) -> int``."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from .exporter.main import build_parser, exporter_schema, load_config, make_collectors, run_exporter

PROG = "spark-exporter"

# subcommand -> module exposing ``main(argv) -> int``
SUBCOMMANDS = {
    "config": "spark_exporter.prometheus.promconfig",
    "query": "spark_exporter.query.cli",
    "api": "spark_exporter.query.api_cli",
    "demo": "spark_exporter.demo",
    "gpu": "spark_exporter.nvml.record",
}

__all__ = ["SUBCOMMANDS", "build_parser", "exporter_schema", "load_config", "main", "make_collectors"]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``spark-exporter`` entry point: dispatch a subcommand (gpu, config, query, api, demo) or run the
    exporter; return the exit status (141 when stdout is a closed pipe).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in SUBCOMMANDS:
            module = importlib.import_module(SUBCOMMANDS[args[0]])
            return int(module.main(args[1:]))
        return run_exporter(args, list(SUBCOMMANDS))
    except BrokenPipeError:
        # Output piped into e.g. `head`, which has exited: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
