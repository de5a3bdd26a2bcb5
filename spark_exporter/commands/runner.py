"""The one command runner: every subcommand's prologue, done once.

:func:`run` parses the command line with the command's :class:`~spark_exporter.settings.parser.Parser`,
resolves its settings (flags > ``SPARK_EXPORTER_*`` > ``--config.file`` > defaults), lets the command
validate them, prints them with their sources for ``--check-config``, and runs the command. A bad
setting or command line (:class:`~spark_exporter.settings.ConfigError`, raised anywhere in that) is
caught here, and only here: one line ``<prog>: error: <message>`` on stderr and exit status 2.

:data:`SUBCOMMANDS` names each subcommand's module (in this package) and its one-line summary; a
command module never imports another.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..settings import ConfigError, Schema, Settings
from ..settings.parser import PROG, Parser, UsageError

__all__ = ["PROG", "SUBCOMMANDS", "Command", "fail", "os_reason", "run"]

#: subcommand -> (module under spark_exporter.commands, one-line summary for ``spark-exporter --help``)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "config": ("config", "generate prometheus.yml, alertmanager.yml, a remote-write set-up, the rules and dashboards"),
    "query": ("query", "print cluster telemetry from Prometheus as a table or JSON"),
    "api": ("api", "serve the cluster telemetry JSON API and the Command Center page"),
    "demo": ("demo", "run a simulated cluster with Prometheus and the API on this machine"),
    "gpu": ("gpu", "GPU tools: record every NVML answer the gpu collector uses"),
}


@dataclass(frozen=True)
class Command:
    """One command: its parser, its settings schema, and how to check and run it.

    ``prepare(ns, settings)`` validates the settings and reads the files they name (raising
    ConfigError) and returns what ``execute`` needs; ``execute`` returns the exit status. With
    ``--check-config`` ``describe(ns, settings)`` lines are printed after ``prepare`` instead.
    """

    name: str  # "" for the daemon
    parser: Callable[[], Parser]
    schema: Callable[[argparse.Namespace], Schema]
    prepare: Callable[[argparse.Namespace, Settings], Any]
    execute: Callable[[Any], int]
    describe: Callable[[argparse.Namespace, Settings], list[str]] | None = None
    #: What ``prepare`` found allowed but weak (e.g. mixed bcrypt costs); ``--check-config`` prints each
    #: to stderr as ``<prog>: warning: ...``, and ``execute`` logs them.
    warnings: Callable[[Any], list[str]] | None = None

    @property
    def prog(self) -> str:
        """``spark-exporter`` or ``spark-exporter NAME``."""
        return f"{PROG} {self.name}" if self.name else PROG


def fail(prog: str, message: str, code: int = 1) -> int:
    """Print ``<prog>: error: <message>`` to stderr; return ``code`` (1: a failure at run time)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def os_reason(error: OSError) -> str:
    """The OS's words for ``error`` (``address already in use``): asyncio's bind errors carry a
    strerror of "error while attempting to bind on address ('127.0.0.1', 19400): ...", a Python tuple."""
    return os.strerror(error.errno).lower() if error.errno else str(error)


def run(command: Command, argv: Sequence[str], environ: Mapping[str, str] | None = None) -> int:
    """Parse, resolve, check and run ``command``; its exit status.

    0 and 1 come from the command; 2 is a bad command line or setting, printed as one line. ``--help``
    and ``--help-all`` exit through SystemExit(0), as argparse does.
    """
    prog = command.prog
    try:
        ns = command.parser().parse_args(list(argv))
        prog = getattr(ns, "prog", None) or prog
        settings = command.schema(ns).resolve(vars(ns), os.environ if environ is None else environ)
        settings.check_only = bool(getattr(ns, "check_config", False))
        state = command.prepare(ns, settings)
        if settings.check_only:
            for line in settings.warnings:
                print(f"{prog}: warning: {line}", file=sys.stderr)
            lines = command.describe(ns, settings) if command.describe else settings.describe()
            print("\n".join(lines))
            for warning in command.warnings(state) if command.warnings else []:
                print(f"{prog}: warning: {warning}", file=sys.stderr)
            return 0
        return command.execute(state)
    except ConfigError as e:
        where = e.prog if isinstance(e, UsageError) else prog
        return fail(where, str(e), 2)
