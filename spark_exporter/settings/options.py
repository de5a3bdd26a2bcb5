"""Every command's options, in one place. Options shared by commands are defined once here.

The daemon's schema also takes the options its collectors declare (``Collector.options``) and one
``collector.NAME`` switch per registered collector; see :class:`ExporterSchema`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .schema import (
    Option,
    Schema,
    Settings,
    bool_option,
    duration_option,
    int_option,
    list_option,
    listen_option,
    number_option,
    str_option,
)
from .values import DEFAULT_LISTEN_ADDRESS, ConfigError, parse_simulator_profile

DEFAULT_PROMETHEUS_URL = "http://localhost:9090"
DEFAULT_API_LISTEN_ADDRESS = "127.0.0.1:19401"

LOG_OPTIONS: tuple[Option, ...] = (
    str_option("log.level", "info", "Log level.", ("debug", "info", "warn", "error")),
    str_option("log.format", "logfmt", "Log format.", ("logfmt", "json")),
)

WEB_CONFIG_FILE = str_option(
    "web.config.file", None, "Path to an exporter-toolkit web configuration file (TLS, basic auth, headers).",
    metavar="PATH")

INVENTORY = str_option(
    "inventory", None, "Cluster inventory (YAML); node names are checked against it, else against Prometheus.",
    metavar="FILE")

PROMETHEUS_OPTIONS: tuple[Option, ...] = (
    str_option("prometheus.url", DEFAULT_PROMETHEUS_URL,
               "Prometheus-compatible query URL (Prometheus, VictoriaMetrics, Thanos, Mimir).", metavar="URL"),
    duration_option("prometheus.timeout", 5.0,
                    "Deadline of one rollup: all its queries to Prometheus together; a timeout is not retried.",
                    positive=True),
    str_option("prometheus.http-config-file", None,
               "Prometheus' HTTP client configuration (basic_auth, authorization, tls_config), as promtool "
               "--http.config.file reads it; secrets are never logged.", metavar="PATH"),
    int_option("prometheus.max-response-bytes", 16 * 1024 * 1024,
               "Largest Prometheus answer read, before and after decompression; larger answers are a 502.",
               minimum=1024, maximum=1024**3),
    int_option("prometheus.answer-budget-bytes", 16 * 1024 * 1024,
               "Prometheus answers held at once by all requests together (parsing costs about 5 times this "
               "in memory); an answer that finds it spent waits up to 2 s, then is a 503 with Retry-After. At "
               "least --prometheus.max-response-bytes.",
               minimum=1024, maximum=1024**3),
    duration_option("prometheus.scrape-interval", 15.0,
                    "Scrape interval of that Prometheus; a target silent for twice this is stale.", positive=True),
)

# Connection limits of the one HTTP layer (spark_exporter.http.server.Limits), for the exporter and the API.
WEB_LIMIT_OPTIONS: tuple[Option, ...] = (
    duration_option("web.header-timeout", 10.0,
                    "Deadline from connecting to a complete request head; the server then closes the socket. "
                    "0s turns it off."),
    duration_option("web.idle-timeout", 60.0, "Keep-alive connections idle this long are closed.", positive=True),
    duration_option("web.write-timeout", 10.0,
                    "Deadline for an answer the client does not read: a connection whose written answer has not "
                    "drained for this long is closed.", positive=True),
    int_option("web.max-connections", 0,
               "Most open client connections; 0 derives it from the open-files limit (RLIMIT_NOFILE).",
               minimum=0, maximum=1_000_000),
)

# -- the daemon ------------------------------------------------------------------------------

CORE_OPTIONS: tuple[Option, ...] = (
    listen_option(DEFAULT_LISTEN_ADDRESS, "Address to listen on for the web interface and telemetry."),
    str_option("web.telemetry-path", "/metrics", "Path under which to expose metrics.", metavar="PATH"),
    bool_option("web.disable-exporter-metrics", False,
                "Exclude metrics about the exporter process itself (process_*), as node_exporter's flag of this "
                "name drops go_*, process_* and promhttp_*."),
    int_option("web.max-requests", 40,
               "Maximum number of parallel scrapes, counted as node_exporter's work is: collections in flight "
               "(scrapes with the same collect[]/exclude[] share one); a scrape needing one more is answered "
               "503. 0 disables the limit.",
               minimum=0, maximum=1_000_000),
    bool_option("collector.disable-defaults", False,
                "Set all collectors to disabled by default; --collector.NAME enables one."),
    WEB_CONFIG_FILE,
    *WEB_LIMIT_OPTIONS,
    duration_option("collect.min-age", 1.0,
                    "A collection younger than this is served again instead of collecting; 0s collects on "
                    "every scrape."),
    duration_option("collect.timeout", 5.0,
                    "Deadline of one collector in one collection (under Prometheus' 10s scrape_timeout, so a "
                    "hung collector still leaves a scrape that succeeds).", positive=True),
    *LOG_OPTIONS,
    str_option("path.procfs", "/proc", "procfs mountpoint.", metavar="PATH"),
    str_option("path.sysfs", "/sys", "sysfs mountpoint.", metavar="PATH"),
    str_option("path.rootfs", "/", "Root filesystem prefix for mount points (for containers).", metavar="PATH"),
)

# Keys that existed once: using one is an error that names its replacement.
REMOVED_EXPORTER_KEYS = {"collect.interval": "collect.min-age"}

# Deprecated spellings that still work (one warning line each), besides each collector option's short
# spelling without ``collector.`` (see ExporterSchema): this project's old name of one option, and the
# deprecated names node_exporter itself still accepts for options this exporter implements.
DEPRECATED_EXPORTER_KEYS = {
    "powersupplyclass.ignored-supplies": "collector.powersupply.ignored-supplies",
    "collector.filesystem.ignored-mount-points": "collector.filesystem.mount-points-exclude",
    "collector.filesystem.ignored-fs-types": "collector.filesystem.fs-types-exclude",
    "collector.diskstats.ignored-devices": "collector.diskstats.device-exclude",
    "collector.netdev.device-blacklist": "collector.netdev.device-exclude",
    "collector.netdev.device-whitelist": "collector.netdev.device-include",
    "collector.systemd.unit-whitelist": "collector.systemd.unit-include",
    "collector.systemd.unit-blacklist": "collector.systemd.unit-exclude",
}


@dataclass
class ExporterConfig(Settings):
    """The resolved daemon configuration: settings plus which collectors are enabled."""

    collectors: dict[str, bool] = field(default_factory=dict)

    @property
    def listen_address(self) -> str:
        """The ``web.listen-address`` setting, ``HOST:PORT``."""
        return str(self.values["web.listen-address"])

    @property
    def telemetry_path(self) -> str:
        """The ``web.telemetry-path`` setting (``/metrics`` by default)."""
        return str(self.values["web.telemetry-path"])

    @property
    def enabled_collectors(self) -> list[str]:
        """Names of the enabled collectors, in the order of ``collectors``."""
        return [n for n, on in self.collectors.items() if on]

    def describe(self) -> list[str]:
        """Settings.describe()'s lines plus ``collectors=<enabled names, comma-separated>``."""
        return [*super().describe(), "collectors=" + ",".join(self.enabled_collectors)]


def _check_telemetry_path(cfg: Settings) -> None:
    path = cfg["web.telemetry-path"]
    if not path.startswith("/") or path in {"/", "/-/healthy", "/-/ready"}:
        raise ConfigError(f"{cfg.where('web.telemetry-path')}: must start with / and not clash with /, "
                          "/-/healthy or /-/ready")


#: (include, exclude) pairs of node_exporter options, resolved as node_exporter's filters resolve them
#: (``collector/filesystem_common.go``, ``diskstats_common.go``, ``netdev_common.go``): both non-empty with the
#: exclude given (flag, environment or file) is refused; an include given with the exclude left at its default
#: drops that default exclude, so that the include alone decides. Checked with the settings, so that
#: ``--check-config`` refuses and shows them as start-up does.
EXCLUSIVE_EXPORTER_KEYS = (
    ("collector.netdev.device-include", "collector.netdev.device-exclude"),
    ("collector.filesystem.mount-points-include", "collector.filesystem.mount-points-exclude"),
    ("collector.filesystem.fs-types-include", "collector.filesystem.fs-types-exclude"),
    ("collector.diskstats.device-include", "collector.diskstats.device-exclude"),
)


def _check_exclusive(cfg: Settings) -> None:
    for include, exclude in EXCLUSIVE_EXPORTER_KEYS:
        if not cfg.values.get(include):
            continue
        if cfg.sources.get(exclude, "default") == "default":
            if cfg.values.get(exclude):
                cfg.values[exclude] = ""
                cfg.sources[exclude] = f"default, dropped as --{include} is given"
        elif cfg.values.get(exclude):
            raise ConfigError(f"{cfg.where(include)} and {cfg.where(exclude)} are mutually exclusive")


def deprecated_keys(options: Iterable[Option], collectors: Iterable[str]) -> dict[str, str]:
    """Old spelling -> key: ``NAME.OPTION`` for every ``collector.NAME.OPTION`` option of a collector NAME
    (the short form this project used before it took node_exporter's flag names), plus
    DEPRECATED_EXPORTER_KEYS."""
    keys = {o.key for o in options}
    names = set(collectors)
    out = {k.removeprefix("collector."): k for k in keys
           if k.startswith("collector.") and k.count(".") >= 2 and k.split(".")[1] in names}
    out.update({old: new for old, new in DEPRECATED_EXPORTER_KEYS.items() if new in keys})
    return {old: new for old, new in out.items() if old not in keys}


class ExporterSchema(Schema):
    """The daemon's options for this build: the core options plus one per registered collector.

    Every collector has a switch ``collector.NAME`` (``--collector.NAME`` / ``--no-collector.NAME``) whose
    default is the collector's own, or off under ``--collector.disable-defaults``; its options are
    ``collector.NAME.OPTION``, node_exporter's names. The older ``NAME.OPTION`` spellings still work, with a
    warning (:func:`deprecated_keys`).
    """

    def __init__(self, collector_defaults: Mapping[str, bool], collector_options: Iterable[Option] = ()) -> None:
        self.collector_defaults = dict(collector_defaults)
        switches = [bool_option(f"collector.{name}", default, f"Enable the {name} collector.")
                    for name, default in self.collector_defaults.items()]
        options = [*CORE_OPTIONS, *switches, *collector_options]
        super().__init__(options, REMOVED_EXPORTER_KEYS, [_check_telemetry_path, _check_exclusive],
                         deprecated_keys(options, self.collector_defaults))

    def make(self, values: dict[str, Any], sources: dict[str, str], config_file: str | None) -> ExporterConfig:
        """An ExporterConfig: the ``collector.NAME`` switches become the ``collectors`` on/off map (a switch
        left at its default is off under ``collector.disable-defaults``), the rest ``values``."""
        switches = {f"collector.{n}": n for n in self.collector_defaults}
        no_defaults = bool(values["collector.disable-defaults"])

        def enabled(key: str) -> bool:
            if no_defaults and sources.get(key, "default") == "default":
                return False
            return bool(values[key])

        return ExporterConfig(
            values={k: v for k, v in values.items() if k not in switches},
            collectors={n: enabled(k) for k, n in switches.items()},
            sources=sources,
            config_file=config_file,
            render={k: o.render for k, o in self.options.items()},
        )


# -- spark-exporter api ----------------------------------------------------------------------


def _origin(value: str) -> str:
    if not value.startswith(("http://", "https://")) or value.endswith("/") or value.count("/") != 2:
        raise ValueError(f"{value!r} is not an origin like https://host[:port]")
    return value


API_OPTIONS: tuple[Option, ...] = (
    *PROMETHEUS_OPTIONS,
    INVENTORY,
    listen_option(DEFAULT_API_LISTEN_ADDRESS, "Address to listen on for the API."),
    WEB_CONFIG_FILE,
    *WEB_LIMIT_OPTIONS,
    str_option("api.token-file", None, "File holding the bearer token every request must send.", metavar="PATH"),
    bool_option("api.insecure", False, "Allow a non-loopback listen address without a token."),
    list_option("api.cors-origin", "Origin allowed by CORS, e.g. https://command-center.example.",
                metavar="ORIGIN", check=_origin),
    number_option("api.rate-limit", 10.0, "Requests per second per client; 0 for no limit."),
    int_option("api.rate-burst", 20, "Requests a client may send at once.", minimum=1, maximum=100_000),
    duration_option("api.cache-ttl", 5.0, "Lifetime of a cached rollup; 0s disables the cache."),
    *LOG_OPTIONS,
)


def api_schema() -> Schema:
    """A fresh Schema of the ``api`` subcommand's options."""
    return Schema(API_OPTIONS)


# -- spark-exporter query --------------------------------------------------------------------

QUERY_OPTIONS: tuple[Option, ...] = (
    *PROMETHEUS_OPTIONS,
    INVENTORY,
    str_option("format", "table", "Output format: a readable table, or the JSON the API serves.",
               ("table", "json")),
)


def query_schema() -> Schema:
    """A fresh Schema of the ``query`` subcommand's options."""
    return Schema(QUERY_OPTIONS)


# -- spark-exporter config prometheus --------------------------------------------------------

DEFAULT_RULE_FILES = "/etc/prometheus/spark-exporter/rules/*.yml"

OUTPUT_DIR_OPTION = str_option("output", None, "Directory to write into (created if missing); required.",
                               metavar="DIR")
FORCE = bool_option("force", False, "Replace files that exist; without it an existing file is an error "
                    "and nothing is written.")

CONFIG_PROMETHEUS_OPTIONS: tuple[Option, ...] = (
    replace(INVENTORY, help="Cluster inventory (YAML): the nodes and endpoints to scrape; required."),
    list_option("rule-files", "Rule file globs for rule_files.", metavar="GLOB", default=(DEFAULT_RULE_FILES,)),
    duration_option("scrape-interval", 15.0, "Global scrape_interval.", positive=True),
    duration_option("evaluation-interval", None, "Global evaluation_interval; none means the scrape interval.",
                    positive=True),
    list_option("alertmanager.url", "Alertmanager to send alerts to (an alerting: section), "
                "http(s)://HOST:PORT[/PREFIX]; repeat for each member of an Alertmanager cluster.", metavar="URL"),
    str_option("output", None, "Write the prometheus.yml to FILE instead of stdout.", metavar="FILE"),
    FORCE,
)


def config_prometheus_schema() -> Schema:
    """A fresh Schema of the ``config prometheus`` subcommand's options."""
    return Schema(CONFIG_PROMETHEUS_OPTIONS)


# -- spark-exporter config alertmanager ------------------------------------------------------

CONFIG_ALERTMANAGER_OPTIONS: tuple[Option, ...] = (
    str_option("webhook-url", "http://127.0.0.1:5001/", "Webhook of the example 'notify' receiver (warning "
               "and info alerts); replace the receivers with your own.", metavar="URL"),
    str_option("page-webhook-url", None, "Webhook of the example 'page' receiver (critical alerts); none "
               "means --webhook-url.", metavar="URL"),
    duration_option("group-wait", 30.0, "Wait before the first notification of a new group.", positive=True),
    duration_option("group-interval", 300.0, "Wait before notifying a group of new or resolved alerts.",
                    positive=True),
    duration_option("repeat-interval", 4 * 3600.0, "Resend a still-firing group after this long.", positive=True),
    duration_option("resolve-timeout", 300.0, "Resolve alerts that carry no end time after this long.",
                    positive=True),
    str_option("output", None, "Write the alertmanager.yml to FILE instead of stdout.", metavar="FILE"),
    FORCE,
)


def config_alertmanager_schema() -> Schema:
    """A fresh Schema of the ``config alertmanager`` subcommand's options."""
    return Schema(CONFIG_ALERTMANAGER_OPTIONS)


# -- spark-exporter config remote-write ------------------------------------------------------

CONFIG_REMOTE_WRITE_OPTIONS: tuple[Option, ...] = (
    replace(INVENTORY, help="Cluster inventory (YAML): the nodes and endpoints each site scrapes; required."),
    str_option("victoria-metrics.write-url", "http://127.0.0.1:8428", "Where samples are written, as a base URL "
               "(the agents append /api/v1/write): single-node VictoriaMetrics, or vminsert's "
               "http://HOST:8480/insert/TENANT/prometheus.", metavar="URL"),
    str_option("victoria-metrics.read-url", None, "Where queries go: single-node VictoriaMetrics, or vmselect's "
               "http://HOST:8481/select/TENANT/prometheus; none means the write URL.", metavar="URL"),
    str_option("alertmanager.url", "http://127.0.0.1:9093", "Alertmanager that vmalert sends alerts to.",
               metavar="URL"),
    duration_option("scrape-interval", 15.0, "Scrape interval of the agents, and vmalert's evaluation interval.",
                    positive=True),
    OUTPUT_DIR_OPTION,
    FORCE,
)


def config_remote_write_schema() -> Schema:
    """A fresh Schema of the ``config remote-write`` subcommand's options."""
    return Schema(CONFIG_REMOTE_WRITE_OPTIONS)


# -- spark-exporter config rules|grafana -----------------------------------------------------

OUTPUT_DIR = OUTPUT_DIR_OPTION

CONFIG_RULES_OPTIONS: tuple[Option, ...] = (OUTPUT_DIR, FORCE)

CONFIG_GRAFANA_OPTIONS: tuple[Option, ...] = (
    OUTPUT_DIR,
    replace(PROMETHEUS_OPTIONS[0], help="Prometheus URL the Grafana data source points at (as Grafana's "
            "server reaches it)."),
    FORCE,
)


def config_rules_schema() -> Schema:
    """A fresh Schema of the ``config rules`` subcommand's options."""
    return Schema(CONFIG_RULES_OPTIONS)


def config_grafana_schema() -> Schema:
    """A fresh Schema of the ``config grafana`` subcommand's options."""
    return Schema(CONFIG_GRAFANA_OPTIONS)


# -- spark-exporter demo ---------------------------------------------------------------------

def _simulator_profile(value: Any) -> str:
    """A --gpu.simulate profile, checked here so a typo fails before any process starts."""
    text = str(value).strip().lower()
    parse_simulator_profile(text)  # raises ValueError naming the accepted forms
    return text


#: The most nodes one fleet simulator process serves (the demo's and the fleet simulator's --nodes).
MAX_SIMULATED_NODES = 256

PROFILE_OPTION = Option("profile", _simulator_profile, "gb10",
                        "GPU simulator profile: gb10, h100, or with a GPU count, h100x8.", metavar="NAME")

DEMO_OPTIONS: tuple[Option, ...] = (
    int_option("nodes", 2, "Simulated nodes: up to 16 run one exporter process each, more (up to "
               f"{MAX_SIMULATED_NODES}) are served by one fleet simulator process.", minimum=1,
               maximum=MAX_SIMULATED_NODES),
    PROFILE_OPTION,
    duration_option("scrape-interval", 2.0, "Prometheus scrape and rule evaluation interval.", positive=True),
    duration_option("refresh", 2.0, "Overview redraw interval.", positive=True),
    duration_option("duration", 0.0, "Stop by itself after this long; 0s runs until Ctrl-C."),
    int_option("api-port", 0, "JSON API port on 127.0.0.1; 0 picks a free one.", minimum=0, maximum=65535),
)


def demo_schema() -> Schema:
    """A fresh Schema of the ``demo`` subcommand's options."""
    return Schema(DEMO_OPTIONS)


# -- python -m spark_exporter.commands.fleet ---------------------------------------------------

FLEET_OPTIONS: tuple[Option, ...] = (
    int_option("nodes", 2, "Simulated nodes served from this one process, one loopback port each.", minimum=1,
               maximum=MAX_SIMULATED_NODES),
    PROFILE_OPTION,
    str_option("ports-file", None, "Where to write {\"nodes\": {NAME: PORT, ...}} once every node listens; "
               "required.", metavar="FILE"),
)


def fleet_schema() -> Schema:
    """A fresh Schema of the fleet simulator's options (``python -m spark_exporter.commands.fleet``)."""
    return Schema(FLEET_OPTIONS)
