"""The argument parser every command uses: one-line usage errors that name the closest valid flag or
subcommand, a short ``--help`` and a complete ``--help-all``.

argparse on its own prints the whole usage (hundreds of flags for the daemon) before ``unrecognized
arguments``, and with subcommands it blames the value of a mistyped flag (``invalid choice:
'http://x'``). :class:`Parser` checks every ``--flag`` against the flags of the parser and its
subcommands before argparse sees them, and turns argparse's errors into :class:`UsageError`, a
:class:`~.values.ConfigError` the command runner prints as one line (exit status 2).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any, NoReturn

from .schema import IGNORED_DEST
from .values import ConfigError

#: The program's name, everywhere it is shown (usage, errors, help).
PROG = "spark-exporter"

_ALWAYS_SHOWN = {"help", "help_all", "version", "config.file", "check_config"}


class UsageError(ConfigError):
    """A command line argparse cannot parse; ``prog`` is the (sub)command that refused it."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


def did_you_mean(word: str, candidates: Collection[str]) -> str:
    """``"; did you mean X?"`` for the closest of ``candidates`` (difflib), or ``""`` when none is close."""
    # Flags are compared without their leading dashes, which every flag shares and which would
    # otherwise make unrelated flags look alike (--receivr and --force).
    bare = {c.lstrip("-"): c for c in candidates}
    close = difflib.get_close_matches(word.lstrip("-"), sorted(bare), n=1, cutoff=0.6)
    return f"; did you mean {bare[close[0]]}?" if close else ""


class _HelpAll(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str = "help_all", **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        assert isinstance(parser, Parser)
        parser.print_help(short=False)
        parser.exit()


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with one-line errors, suggestions, and ``--help`` (short) / ``--help-all``.

    ``common`` names the settings keys (argparse ``dest``) that the short ``--help`` shows; ``None``
    shows every flag. ``--help-all`` always shows every flag.

    ``ignorable(name)`` (``name`` without ``--``) says whether an unknown flag is dropped instead of
    refused: ``"bool"`` (no argument; ``--no-NAME`` too), ``"value"`` or ``"list"`` (one argument, after
    ``=`` or as the next word), or None (refused). The dropped flags are left in the namespace under
    ``IGNORED_DEST`` for the settings to warn about. The daemon uses it for node_exporter's flags.
    """

    def __init__(self, *args: Any, common: Collection[str] | None = None,
                 ignorable: Callable[[str], str | None] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.common = None if common is None else frozenset(common)
        self.ignorable = ignorable
        self.add_argument("--help-all", action=_HelpAll, help="Show every flag, and exit.")

    # -- help ------------------------------------------------------------------------------------

    def format_help(self, short: bool = True) -> str:
        """The help text: with ``short`` and ``common`` set, only the common flags (and a pointer to
        ``--help-all``); else every flag."""
        if not short or self.common is None:
            return super().format_help()
        hidden = [a for a in self._actions
                  if a.option_strings and a.dest not in self.common and a.dest not in _ALWAYS_SHOWN
                  and a.help != argparse.SUPPRESS]
        saved = [a.help for a in hidden]
        for a in hidden:
            a.help = argparse.SUPPRESS
        try:
            return super().format_help()
        finally:
            for a, text in zip(hidden, saved, strict=True):
                a.help = text

    def print_help(self, file: Any = None, short: bool = True) -> None:
        """Print :meth:`format_help` to ``file`` (stdout by default)."""
        self._print_message(self.format_help(short), file or sys.stdout)

    # -- errors ----------------------------------------------------------------------------------

    def _child_parsers(self) -> Iterator[Parser]:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if isinstance(sub, Parser):
                        yield sub
                        yield from sub._child_parsers()

    def known_flags(self) -> set[str]:
        """Every ``--flag`` of this parser and of its subcommands' parsers."""
        flags = {s for a in self._actions for s in a.option_strings if s.startswith("--")}
        for sub in self._child_parsers():
            flags |= {s for a in sub._actions for s in a.option_strings if s.startswith("--")}
        return flags

    def _ignorable(self, name: str) -> str | None:
        """The kind of flag ``name`` (with ``--``) if :attr:`ignorable` drops it, else None."""
        if self.ignorable is None:
            return None
        bare = name[2:]
        kind = self.ignorable(bare)
        if kind is None and bare.startswith("no-") and self.ignorable(bare[3:]) == "bool":
            kind = "bool"
        return kind

    def drop_ignorable(self, args: Sequence[str]) -> tuple[list[str], list[str]]:
        """``args`` without the unknown flags :attr:`ignorable` accepts (and their values), and those flags.

        A flag this parser knows is never dropped; ``--`` ends the flags.
        """
        known = self.known_flags()
        kept: list[str] = []
        dropped: list[str] = []
        it = iter(args)
        for arg in it:
            name = arg.split("=", 1)[0]
            if arg == "--":
                kept.append(arg)
                kept.extend(it)
                break
            kind = self._ignorable(name) if arg.startswith("--") and name not in known else None
            if kind is None:
                kept.append(arg)
                continue
            dropped.append(name)
            if kind != "bool" and "=" not in arg:
                next(it, None)  # its value, given as the next word
        return kept, dropped

    def check_flags(self, args: Sequence[str]) -> None:
        """Raise UsageError for the first ``--flag`` no parser here knows, naming the closest known one.

        A prefix of a known flag passes (argparse resolves abbreviations); ``--`` ends the flags.
        """
        known = self.known_flags()
        chain = self._chosen(args)
        for arg in args:
            if arg == "--":
                return
            if not arg.startswith("--"):
                continue
            name = arg.split("=", 1)[0]
            if name in known or any(k.startswith(name) for k in known):
                continue
            # Suggest only a flag of the (sub)command being run, and name that command.
            own = {s for p in chain for a in p._actions for s in a.option_strings if s.startswith("--")}
            raise UsageError(f"unknown flag {name}{did_you_mean(name, own)}", chain[-1].prog)

    def _chosen(self, args: Sequence[str]) -> list[Parser]:
        """This parser and the subcommand parsers ``args`` select, outermost first."""
        chain: list[Parser] = [self]
        for arg in args:
            if arg == "--":
                break
            subs = [a for a in chain[-1]._actions if isinstance(a, argparse._SubParsersAction)]
            choice = subs[0].choices.get(arg) if subs and not arg.startswith("-") else None
            if isinstance(choice, Parser):
                chain.append(choice)
        return chain

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        """argparse's parse_args after :meth:`check_flags`; errors are UsageError, never SystemExit(2)."""
        argv, dropped = self.drop_ignorable(list(sys.argv[1:] if args is None else args))
        self.check_flags(argv)
        ns = super().parse_args(argv, namespace)
        if dropped:
            setattr(ns, IGNORED_DEST, tuple(dropped))
        return ns

    def error(self, message: str) -> NoReturn:
        """Raise UsageError with argparse's ``message``, an invalid choice rephrased with a suggestion."""
        m = re.match(r"argument (.+?): invalid choice: '(.*?)' \(choose from (.*)\)", message)
        if m:
            choices = re.findall(r"'([^']*)'", m.group(3))
            hint = did_you_mean(m.group(2), choices) or "; choose from " + ", ".join(choices)
            what = f"{m.group(1)}: invalid value" if m.group(1).startswith("-") else "unknown subcommand"
            raise UsageError(f"{what} {m.group(2)!r}{hint}", self.prog)
        for action in self._actions:  # a missing subcommand: name the subcommands, not argparse's dest
            if isinstance(action, argparse._SubParsersAction) and \
                    message == f"the following arguments are required: {argparse._get_action_name(action)}":
                raise UsageError("a subcommand is required: " + ", ".join(action.choices), self.prog)
        raise UsageError(message, self.prog)
