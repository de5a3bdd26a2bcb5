"""The ``spark-exporter`` entry point: dispatch to :mod:`spark_exporter.commands`.

No subcommand (or a first argument that is a flag) runs the daemon; ``config``, ``query``, ``api``,
``demo`` and ``gpu`` run their module's ``main(argv)``. A mistyped subcommand is one line naming the
closest one, exit status 2.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from .commands.runner import PROG, SUBCOMMANDS, fail
from .settings.parser import did_you_mean

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command ``argv`` names (default: ``sys.argv[1:]``); return its exit status (2 for an
    unknown subcommand, 141 when stdout is a closed pipe)."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = args[0] if args and not args[0].startswith("-") else None
    if name is not None and name not in SUBCOMMANDS:
        hint = did_you_mean(name, SUBCOMMANDS) or "; subcommands: " + ", ".join(SUBCOMMANDS)
        return fail(PROG, f"unknown subcommand {name!r}{hint}", 2)
    module = importlib.import_module(f"{__package__}.commands.{SUBCOMMANDS[name][0] if name else 'exporter'}")
    try:
        return int(module.main(args[1:] if name else args))
    except BrokenPipeError:
        # Output piped into e.g. `head`, which has exited: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
