"""One typed configuration model for the daemon.

Every option has a dotted key (``collect.min-age``). The same key is:

* a flag: ``--collect.min-age=1s`` (booleans also get ``--no-KEY``);
* an environment variable: ``SPARK_EXPORTER_COLLECT_MIN_AGE`` (dots and dashes become ``_``);
* a YAML key in ``--config.file``: nested (``collect: {min-age: 1s}``) or flat (``collect.min-age: 1s``).

Precedence is flag > environment > file > default. Any error names its source (file and key, the
variable, or the flag) and is raised as :class:`ConfigError` before anything starts.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

ENV_PREFIX = "SPARK_EXPORTER_"
DEFAULT_PORT = 19400
DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_PORT}"


class ConfigError(Exception):
    """A configuration value is missing, malformed or unknown. The message names where it came from."""


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``500ms``, ``5s``, ``1m30s``) into seconds."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 5s, got a boolean")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("duration must not be negative")
        return float(text)
    s = str(text).strip()
    if s == "0":
        return 0.0
    pos = 0
    total = 0.0
    for m in _DURATION_RE.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ValueError(f"invalid duration {text!r} (use e.g. 500ms, 5s, 1m)")
    return total


def format_duration(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{seconds}s"


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_str(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    try:
        return int(str(value), 10)
    except ValueError:
        raise ValueError(f"expected an integer, got {value!r}") from None


def _as_optional_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return _as_str(value)


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

    @property
    def env(self) -> str:
        return ENV_PREFIX + re.sub(r"[.\-]", "_", self.key).upper()

    @property
    def flag(self) -> str:
        return "--" + self.key

    def convert(self, value: Any) -> Any:
        out = self.parse(value)
        if self.choices and out not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {out!r}")
        return out


def bool_option(key: str, default: bool, help: str) -> Option:
    return Option(key, _as_bool, default, help, is_bool=True)


def str_option(key: str, default: str | None, help: str, choices: tuple[str, ...] = (),
               metavar: str | None = None) -> Option:
    return Option(key, _as_optional_str if default is None else _as_str, default, help, choices, metavar=metavar)


def int_option(key: str, default: int, help: str, minimum: int | None = None) -> Option:
    def parse(value: Any) -> int:
        n = _as_int(value)
        if minimum is not None and n < minimum:
            raise ValueError(f"must be at least {minimum}, got {n}")
        return n

    return Option(key, parse, default, help, metavar="N")


def duration_option(key: str, default: float, help: str) -> Option:
    return Option(key, parse_duration, default, help, metavar="DURATION")


def _listen_address(value: Any) -> str:
    s = _as_str(value)
    parse_listen_address(s)
    return s


def parse_listen_address(addr: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``:PORT`` means all interfaces, ``[::1]:PORT`` for IPv6)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {addr!r} (expected HOST:PORT, e.g. :{DEFAULT_PORT})")
    host = host.strip("[]")
    return host, int(port)


# Removed options -> the option that replaces them; setting one is an error that names its replacement.
REMOVED_OPTIONS = {"collect.interval": "collect.min-age"}

CORE_OPTIONS: tuple[Option, ...] = (
    Option("web.listen-address", _listen_address, DEFAULT_LISTEN_ADDRESS,
           "Address to listen on for the web interface and telemetry.", metavar="HOST:PORT"),
    str_option("web.telemetry-path", "/metrics", "Path under which to expose metrics.", metavar="PATH"),
    str_option("web.config.file", None,
               "Path to an exporter-toolkit web configuration file (TLS and basic auth).", metavar="PATH"),
    duration_option("collect.min-age", 1.0,
                    "A scrape within this time of the last collection's end is served that collection; "
                    "0s collects on every scrape."),
    duration_option("collect.timeout", 5.0,
                    "Deadline for one collector in one collection (under Prometheus' 10s scrape_timeout, so a "
                    "hung collector still leaves a scrape that succeeds)."),
    str_option("log.level", "info", "Log level.", ("debug", "info", "warn", "error")),
    str_option("log.format", "logfmt", "Log format.", ("logfmt", "json")),
    str_option("path.procfs", "/proc", "procfs mountpoint.", metavar="PATH"),
    str_option("path.sysfs", "/sys", "sysfs mountpoint.", metavar="PATH"),
    str_option("path.rootfs", "/", "Root filesystem prefix for mount points (for containers).", metavar="PATH"),
)


@dataclass
class ExporterConfig:
    """The resolved daemon configuration."""

    values: dict[str, Any]
    collectors: dict[str, bool]
    sources: dict[str, str] = field(default_factory=dict)
    check_only: bool = False
    config_file: str | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def listen_address(self) -> str:
        return str(self.values["web.listen-address"])

    @property
    def telemetry_path(self) -> str:
        return str(self.values["web.telemetry-path"])

    @property
    def timeout(self) -> float:
        return float(self.values["collect.timeout"])

    @property
    def min_age(self) -> float:
        return float(self.values["collect.min-age"])

    @property
    def enabled_collectors(self) -> list[str]:
        return [n for n, on in self.collectors.items() if on]


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def load_yaml_file(path: str, what: str = "config file") -> Any:
    """Read and parse a YAML file, turning every failure into a ConfigError that names the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read: {e.strerror or e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{what} {path}: invalid YAML{where}: {problem}") from None


def read_config_file(path: str, known: Iterable[str]) -> dict[str, Any]:
    data = load_yaml_file(path)
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {path}: top level must be a mapping of keys to values")
    flat = _flatten(data)
    known_set = set(known)
    for key in flat:
        if key in REMOVED_OPTIONS:
            raise ConfigError(f"config file {path}: key {key!r} removed; use {REMOVED_OPTIONS[key]!r} "
                              "(collection now runs when scraped)")
        if key not in known_set:
            raise ConfigError(f"config file {path}: unknown key {key!r}")
    return flat


class ExporterSchema:
    """The set of options for this build: the core options plus one per registered collector."""

    def __init__(self, collector_defaults: Mapping[str, bool], collector_options: Iterable[Option] = ()) -> None:
        self.collector_defaults = dict(collector_defaults)
        self.options: dict[str, Option] = {o.key: o for o in CORE_OPTIONS}
        for name, default in self.collector_defaults.items():
            o = bool_option(f"collector.{name}", default, f"Enable the {name} collector (default {default}).")
            self.options[o.key] = o
        for o in collector_options:
            if o.key in self.options:
                raise ValueError(f"option {o.key} declared twice")
            self.options[o.key] = o

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config.file", dest="config.file", metavar="PATH", default=None,
                            help=f"YAML configuration file (env {ENV_PREFIX}CONFIG_FILE).")
        for old in REMOVED_OPTIONS:
            parser.add_argument(f"--{old}", dest=old, default=None, help=argparse.SUPPRESS)
        for o in self.options.values():
            # argparse %-formats help strings; a literal % ("80% of ...") must be doubled.
            help_text = f"{o.help} (env {o.env}; default {self._default_text(o)})".replace("%", "%%")
            if o.is_bool:
                parser.add_argument(o.flag, dest=o.key, action=argparse.BooleanOptionalAction, default=None,
                                    help=help_text)
            else:
                metavar = o.metavar or ("{" + ",".join(o.choices) + "}" if o.choices else "VALUE")
                parser.add_argument(o.flag, dest=o.key, default=None, metavar=metavar, help=help_text)

    @staticmethod
    def _default_text(o: Option) -> str:
        if o.parse is parse_duration:
            return format_duration(o.default)
        return str(o.default).lower() if o.is_bool else str(o.default)

    def resolve(self, flags: Mapping[str, Any], environ: Mapping[str, str]) -> ExporterConfig:
        """Merge defaults < file < environment < flags, validating every value."""
        config_file = flags.get("config.file") or environ.get(ENV_PREFIX + "CONFIG_FILE") or None
        self._refuse_removed(flags, environ)
        layers: list[tuple[str, Mapping[str, Any]]] = []
        if config_file:
            layers.append((f"config file {config_file}", read_config_file(config_file, self.options)))
        env_layer = {o.key: environ[o.env] for o in self.options.values() if o.env in environ}
        layers.append(("environment", env_layer))
        layers.append(("flag", {k: v for k, v in flags.items() if v is not None and k in self.options}))

        values = {k: o.default for k, o in self.options.items()}
        sources = {k: "default" for k in self.options}
        for source, layer in layers:
            for key, raw in layer.items():
                o = self.options[key]
                try:
                    values[key] = o.convert(raw)
                except ValueError as e:
                    where = {"environment": f"environment variable {o.env}", "flag": f"flag {o.flag}"}.get(
                        source, f"{source}: key {key!r}")
                    raise ConfigError(f"{where}: {e}") from None
                sources[key] = source
        cfg = ExporterConfig(
            values={k: v for k, v in values.items() if not k.startswith("collector.")},
            collectors={n: bool(values[f"collector.{n}"]) for n in self.collector_defaults},
            sources=sources,
            config_file=config_file,
        )
        self._check(cfg)
        return cfg

    @staticmethod
    def _refuse_removed(flags: Mapping[str, Any], environ: Mapping[str, str]) -> None:
        for old, new in REMOVED_OPTIONS.items():
            env = ENV_PREFIX + re.sub(r"[.\-]", "_", old).upper()
            where = f"flag --{old}" if flags.get(old) is not None else (
                f"environment variable {env}" if env in environ else None)
            if where:
                raise ConfigError(f"{where}: removed; use --{new} (collection now runs when scraped)")

    def _check(self, cfg: ExporterConfig) -> None:
        if cfg.timeout <= 0:
            raise ConfigError(f"collect.timeout ({cfg.sources['collect.timeout']}): must be greater than 0")
        if not cfg.telemetry_path.startswith("/") or cfg.telemetry_path in {"/", "/-/healthy", "/-/ready"}:
            raise ConfigError(
                f"web.telemetry-path ({cfg.sources['web.telemetry-path']}): must start with / and not "
                "clash with /, /-/healthy or /-/ready")
