"""Options, a schema of options, and the resolution of flags > environment > file > defaults."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .files import load_yaml_file
from .values import (
    ConfigError,
    as_bool,
    as_int,
    as_listen_address,
    as_number,
    as_optional_str,
    as_regex,
    as_str,
    as_str_list,
    format_duration,
    parse_duration,
)

ENV_PREFIX = "SPARK_EXPORTER_"
#: node_exporter flags that are refused rather than ignored with a warning: without them the exporter would
#: listen where the operator did not ask (a socket unit holds the scraped port; we would bind our default).
REFUSED_FLAGS = {
    "--web.systemd-socket": "systemd socket activation is not supported; remove it, stop the .socket unit "
                            "and set --web.listen-address to its address (the exporter binds it itself)",
}
#: argparse ``dest`` prefix of a deprecated spelling's flag (the value is moved to the new key).
ALIAS_DEST = "alias."
#: argparse ``dest`` under which :class:`~.parser.Parser` leaves the flags it dropped (node_exporter flags
#: this build does not implement), for :meth:`Schema.resolve` to turn into warnings.
IGNORED_DEST = "ignored.flags"


def _render(value: Any) -> str:
    if value is None or value == "" or value == ():
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


class _StoreOnce(argparse.Action):
    """argparse's ``store`` for an :attr:`Option.once` flag: a second occurrence is a usage error."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        seen = "once." + self.dest
        if getattr(namespace, seen, False):
            raise argparse.ArgumentError(self, f"given more than once; {self.const}")
        setattr(namespace, seen, True)
        setattr(namespace, self.dest, values)


@dataclass(frozen=True)
class Option:
    """One setting: its dotted key, how to parse it, its default and its help text."""

    key: str
    parse: Callable[[Any], Any]
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    is_bool: bool = False
    metavar: str | None = None
    render: Callable[[Any], str] = _render  # the value as --check-config and --help show it
    repeatable: bool = False  # a list: the flag may be given several times
    #: Non-empty: the flag may be given only once, and a second one is a usage error ending with this reason
    #: (for an option whose node_exporter flag repeats with another meaning, so that none is dropped silently).
    once: str = ""

    @property
    def env(self) -> str:
        """The environment variable: ENV_PREFIX plus the key upper-cased, ``.`` and ``-`` as ``_``."""
        return ENV_PREFIX + re.sub(r"[.\-]", "_", self.key).upper()

    @property
    def flag(self) -> str:
        """The command-line flag: ``--`` plus the key."""
        return "--" + self.key

    def convert(self, value: Any) -> Any:
        """The parsed value; raises ValueError when it does not parse or is not one of ``choices``."""
        out = self.parse(value)
        if self.choices and out not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {out!r}")
        return out

    def with_default(self, default: Any) -> Option:
        """A copy of this option with another default."""
        return replace(self, default=default)


def bool_option(key: str, default: bool, help: str) -> Option:
    """A boolean option (``--key``/``--no-key``); values parse with as_bool."""
    return Option(key, as_bool, default, help, is_bool=True)


def str_option(key: str, default: str | None, help: str, choices: tuple[str, ...] = (),
               metavar: str | None = None) -> Option:
    """A string option (as_str; as_optional_str when the default is None, so ``""`` means None).

    With ``choices``, any other value is a ValueError.
    """
    return Option(key, as_optional_str if default is None else as_str, default, help, choices, metavar=metavar)


def int_option(key: str, default: int, help: str, minimum: int | None = None,
               maximum: int | None = None) -> Option:
    """An integer option (as_int); ValueError below ``minimum`` or above ``maximum``."""
    def parse(value: Any) -> int:
        n = as_int(value)
        if minimum is not None and n < minimum:
            raise ValueError(f"must be at least {minimum}, got {n}")
        if maximum is not None and n > maximum:
            raise ValueError(f"must be at most {maximum}, got {n}")
        return n

    return Option(key, parse, default, help, metavar="N")


def number_option(key: str, default: float, help: str, minimum: float = 0.0) -> Option:
    """A float option (as_number: finite decimals only); ValueError below ``minimum``."""
    def parse(value: Any) -> float:
        n = as_number(value)
        if n < minimum:
            raise ValueError(f"must be at least {minimum:g}, got {n:g}")
        return n

    return Option(key, parse, default, help, metavar="NUMBER", render=lambda v: f"{v:g}")


def duration_option(key: str, default: float | None, help: str, positive: bool = False,
                    minimum: float | None = None) -> Option:
    """A duration setting (seconds); ``positive`` refuses ``0s``; ``minimum`` refuses anything between 0
    (still allowed, meaning "off") and it. A ``None`` default means "not set"."""
    def parse(value: Any) -> float | None:
        if default is None and value in (None, ""):
            return None
        seconds = parse_duration(value)
        if positive and seconds <= 0:
            raise ValueError(f"duration {value!r} must be greater than zero")
        if minimum is not None and 0 < seconds < minimum:
            raise ValueError(f"duration {value!r} must be 0s (off) or at least {format_duration(minimum)}")
        return seconds

    return Option(key, parse, default, help, metavar="DURATION",
                  render=lambda v: "none" if v is None else format_duration(v))


def regex_option(key: str, default: str, help: str) -> Option:
    """A setting holding a regular expression, validated when the configuration is loaded."""
    return Option(key, as_regex, default, help, metavar="REGEX")


def list_option(key: str, help: str, metavar: str = "VALUE", check: Callable[[str], str] | None = None,
                default: tuple[str, ...] = ()) -> Option:
    """A list of strings: a repeatable flag, a comma-separated variable, a YAML list."""
    def parse(value: Any) -> tuple[str, ...]:
        items = as_str_list(value)
        return tuple(check(v) for v in items) if check else items

    return Option(key, parse, default, help, metavar=metavar, repeatable=True)


def listen_option(default: str, help: str) -> Option:
    """The ``web.listen-address`` option, ``HOST:PORT`` checked by as_listen_address."""
    # node_exporter listens on each --web.listen-address given; this exporter serves one, so a second is
    # refused instead of silently replacing the first.
    return Option("web.listen-address", as_listen_address, default, help, metavar="HOST:PORT",
                  once="this exporter listens on one address (node_exporter listens on each)")


@dataclass
class Settings:
    """Resolved settings of one command: typed values by key, and where each came from."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    check_only: bool = False
    config_file: str | None = None
    render: dict[str, Callable[[Any], str]] = field(default_factory=dict, repr=False)
    #: One line each, for the command to log at start-up: a deprecated spelling that was used (and its
    #: replacement), a node_exporter flag that was ignored.
    warnings: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` where it has none."""
        return self.values.get(key, default)

    def describe(self) -> list[str]:
        """The ``--check-config`` lines: ``key=value  # source``, durations as written (``5s``)."""
        where = "default" if self.config_file is None else self.sources.get("config.file", "flag")
        lines = [f"config.file={_render(self.config_file)}  # {where}"]
        for key in sorted(self.values):
            shown = self.render.get(key, _render)(self.values[key])
            lines.append(f"{key}={shown}  # {self.sources.get(key, 'default')}")
        return lines

    def where(self, key: str) -> str:
        """The source of a key, for messages: ``flag --x``, ``environment variable X``, ``config file F: key 'k'``."""
        source = self.sources.get(key, "default")
        if source == "flag":
            return f"--{key}"
        if source == "environment":
            return "environment variable " + ENV_PREFIX + re.sub(r"[.\-]", "_", key).upper()
        if source.startswith("config file"):
            return f"{source}: key {key!r}"
        return f"{key} (default)"


def _flatten(data: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def read_config_file(path: str, known: Iterable[str], removed: Mapping[str, str] = {},
                     aliases: Mapping[str, str] = {}, warnings: list[str] | None = None) -> dict[str, Any]:
    """The YAML config file at ``path`` flattened to dotted keys; ``{}`` for an empty file.

    A key in ``aliases`` (a deprecated spelling) is read as its replacement, with one line appended to
    ``warnings``; where both are given the replacement wins. Raises ConfigError for an unreadable or
    invalid file, a top level that is not a mapping, an unknown key, or a key in ``removed`` (naming its
    replacement).
    """
    data = load_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: top level must be a mapping of keys to values")
    flat = _flatten(data)
    known_set = set(known)
    for key in flat:
        if key in removed:
            raise ConfigError(f"config file {path}: key {key!r} was removed: use {removed[key]!r}")
        if key not in known_set and key not in aliases:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
    for old, new in aliases.items():
        if old in flat:
            value = flat.pop(old)
            flat.setdefault(new, value)
            if warnings is not None:
                warnings.append(f"config file {path}: key {old!r} is deprecated: use {new!r}")
    return flat


Check = Callable[[Settings], None]


class Schema:
    """The options one command accepts, resolved with precedence flag > environment > file > default.

    ``removed`` maps keys that no longer exist to their replacement: using one (as a flag, variable
    or file key) is an error naming the replacement. ``aliases`` maps deprecated keys to the key they
    now spell: one still works (flag, variable or file key; the new spelling wins where both are given)
    and adds one line to ``Settings.warnings``. ``checks`` validate combinations of values.
    """

    def __init__(self, options: Iterable[Option], removed: Mapping[str, str] | None = None,
                 checks: Sequence[Check] = (), aliases: Mapping[str, str] | None = None) -> None:
        self.options: dict[str, Option] = {}
        for o in options:
            if o.key in self.options:
                raise ValueError(f"option {o.key} declared twice")
            self.options[o.key] = o
        self.removed = dict(removed or {})
        self.checks = list(checks)
        self.aliases = dict(aliases or {})
        for old, new in self.aliases.items():
            if new not in self.options or old in self.options:
                raise ValueError(f"alias {old} -> {new}: the new key must exist and the old one must not")

    def add_arguments(self, parser: argparse.ArgumentParser, suppress: bool = False,
                      grouped: bool = False) -> None:
        """Add ``--config.file``, ``--check-config`` and one flag per option.

        With ``suppress`` the flags leave no default in the namespace, so that a subcommand's copy of
        them does not overwrite what was given before the subcommand. With ``grouped`` the help lists
        the options under the first part of their key (``web``, ``collector``, ...).
        """
        groups: dict[str, Any] = {}
        default = argparse.SUPPRESS if suppress else None
        parser.add_argument("--config.file", dest="config.file", metavar="PATH", default=default,
                            help=f"YAML file with any of these settings, nested by the dots of their names "
                            f"(env {ENV_PREFIX}CONFIG_FILE; default none).")
        parser.add_argument("--check-config", action="store_true", dest="check_config",
                            default=argparse.SUPPRESS if suppress else False,
                            help="Validate the settings and the files they name, print each value with "
                            "its source, and exit.")
        for o in self.options.values():
            target: Any = parser
            if grouped and "." in o.key:
                title = o.key.split(".", 1)[0]
                target = groups.get(title) or groups.setdefault(title, parser.add_argument_group(title))
            # argparse %-formats help strings; a literal % must be doubled.
            extra = "; repeatable" if o.repeatable else ""
            help_text = f"{o.help} (env {o.env}{extra}; default {o.render(o.default)})".replace("%", "%%")
            if o.is_bool:
                target.add_argument(o.flag, dest=o.key, action=argparse.BooleanOptionalAction, default=default,
                                    help=help_text)
            elif o.repeatable:
                target.add_argument(o.flag, dest=o.key, action="append", default=default, metavar=o.metavar,
                                    help=help_text)
            else:
                metavar = o.metavar or ("{" + ",".join(o.choices) + "}" if o.choices else "VALUE")
                if o.once:
                    target.add_argument(o.flag, dest=o.key, default=default, metavar=metavar, help=help_text,
                                        action=_StoreOnce, const=o.once)
                else:
                    target.add_argument(o.flag, dest=o.key, default=default, metavar=metavar, help=help_text)
        for key in self.removed:
            parser.add_argument("--" + key, dest="removed." + key, default=argparse.SUPPRESS,
                                help=argparse.SUPPRESS)
        for old, new in self.aliases.items():
            o = self.options[new]
            dest = ALIAS_DEST + old
            if o.is_bool:
                parser.add_argument("--" + old, dest=dest, action=argparse.BooleanOptionalAction,
                                    default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            else:
                parser.add_argument("--" + old, dest=dest, action="append" if o.repeatable else "store",
                                    default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def _alias_layers(self, flags: Mapping[str, Any], environ: Mapping[str, str],
                      warnings: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Values given under a deprecated spelling: (environment layer, flag layer), keyed by the new key."""
        env_layer: dict[str, Any] = {}
        flag_layer: dict[str, Any] = {}
        for old, new in self.aliases.items():
            o = self.options[new]
            old_env = ENV_PREFIX + re.sub(r"[.\-]", "_", old).upper()
            if old_env in environ:
                warnings.append(f"environment variable {old_env} is deprecated: use {o.env}")
                env_layer[new] = environ[old_env]
            if flags.get(ALIAS_DEST + old) is not None:
                warnings.append(f"flag --{old} is deprecated: use {o.flag}")
                flag_layer[new] = flags[ALIAS_DEST + old]
        return env_layer, flag_layer

    def _removed_error(self, where: str, key: str) -> ConfigError:
        return ConfigError(f"{where} was removed: use --{self.removed[key]} instead")

    def resolve(self, flags: Mapping[str, Any], environ: Mapping[str, str]) -> Settings:
        """Merge defaults < file < environment < flags, validating every value; raises ConfigError."""
        for key in self.removed:
            if f"removed.{key}" in flags:
                raise self._removed_error(f"--{key}", key)
            env = ENV_PREFIX + re.sub(r"[.\-]", "_", key).upper()
            if env in environ:
                raise self._removed_error(f"environment variable {env}", key)
        config_file = flags.get("config.file") or environ.get(ENV_PREFIX + "CONFIG_FILE") or None
        warnings: list[str] = []
        layers: list[tuple[str, Mapping[str, Any]]] = []
        if config_file:
            layers.append((f"config file {config_file}",
                           read_config_file(config_file, self.options, self.removed, self.aliases, warnings)))
        old_env, old_flags = self._alias_layers(flags, environ, warnings)
        layers.append(("environment", {**old_env, **{o.key: environ[o.env] for o in self.options.values()
                                                      if o.env in environ}}))
        given = {k: v for k, v in flags.items() if v is not None and k in self.options}
        layers.append(("flag", {**old_flags, **given}))
        ignored = list(dict.fromkeys(flags.get(IGNORED_DEST) or ()))  # once per flag
        for name in ignored:
            if name in REFUSED_FLAGS:  # ignoring these would serve somewhere else than asked
                raise ConfigError(f"{name}: {REFUSED_FLAGS[name]}")
        warnings.extend(f"flag {name} ignored: a node_exporter flag this exporter does not implement"
                        for name in ignored)

        values = {k: o.default for k, o in self.options.items()}
        sources = {k: "default" for k in self.options}
        if config_file:
            sources["config.file"] = "flag" if flags.get("config.file") else "environment"
        for source, layer in layers:
            for key, raw in layer.items():
                o = self.options[key]
                if source == "flag" and o.repeatable:
                    raw = [v for item in raw for v in as_str_list(item)]
                try:
                    values[key] = o.convert(raw)
                except ValueError as e:
                    where = {"environment": f"environment variable {o.env}", "flag": o.flag}.get(
                        source, f"{source}: key {key!r}")
                    raise ConfigError(f"{where}: {e}") from None
                sources[key] = source
        settings = self.make(values, sources, config_file)
        settings.warnings = warnings
        for check in self.checks:
            check(settings)
        return settings

    def make(self, values: dict[str, Any], sources: dict[str, str], config_file: str | None) -> Settings:
        """The Settings built from resolved ``values`` and their ``sources`` (flag, env, file, default)."""
        return Settings(values=values, sources=sources, config_file=config_file,
                        render={k: o.render for k, o in self.options.items()})

    def parse_args(self, parser: argparse.ArgumentParser, argv: Sequence[str],
                   environ: Mapping[str, str]) -> tuple[argparse.Namespace, Settings]:
        """Parse ``argv`` with ``parser`` (which has this schema's arguments) and resolve the settings."""
        ns = parser.parse_args(list(argv))
        settings = self.resolve(vars(ns), environ)
        settings.check_only = bool(getattr(ns, "check_config", False))
        return ns, settings
