"""One configuration model for every command: the daemon, ``api``, ``query``, ``config``, ``demo``.

Every option has a dotted key (``prometheus.url``). The same key is:

* a flag: ``--prometheus.url=URL`` (booleans also get ``--no-KEY``; lists repeat the flag);
* an environment variable: ``SPARK_EXPORTER_PROMETHEUS_URL`` (dots and dashes become ``_``);
* a YAML key in ``--config.file``: nested (``prometheus: {url: ...}``) or flat (``prometheus.url: ...``).

Precedence is flag > environment > file > default. Any error names its source (file and key, the
variable, or the flag) and is raised as :class:`ConfigError` before anything starts; every command's
``--check-config`` prints each resolved value with its source (durations as written, ``5s``).

Modules: :mod:`.values` (the one duration parser, listen addresses, regexes, scalars),
:mod:`.files` (guarded reading of every file the programs are given: regular files only, size cap,
UTF-8, YAML depth and alias limits), :mod:`.schema` (options and their resolution) and
:mod:`.options` (every command's options; shared ones, such as ``--prometheus.*``, defined once).

Why not pydantic-settings: it was the first candidate, and it was measured against what this model
must do. (1) ``--check-config`` prints where each value came from; pydantic-settings merges its
sources into one dict and keeps no per-value source, so that would be rebuilt on top anyway.
(2) The established naming rule maps ``web.listen-address`` to ``SPARK_EXPORTER_WEB_LISTEN_ADDRESS``;
pydantic-settings nests environment variables with a delimiter (``WEB__LISTEN_ADDRESS``) and needs
an alias on every field whose key has a dash. (3) The daemon's options are not known statically:
each collector module declares its own and registers itself, which would mean ``create_model`` at
run time. (4) Its validation errors are multi-line tables; ours must be one line naming the file
and key. What is left after those adaptations is the ~150 lines of :mod:`.schema`, so the model stays
home-made, with PyYAML's safe loader for files and argparse for flags.
"""

from __future__ import annotations

from .files import (
    MAX_FILE_BYTES,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    load_yaml_file,
    parse_yaml,
    read_text_file,
    read_token_file,
)
from .options import (
    API_OPTIONS,
    CONFIG_PROMETHEUS_OPTIONS,
    CORE_OPTIONS,
    DEFAULT_API_LISTEN_ADDRESS,
    DEFAULT_PROMETHEUS_URL,
    DEFAULT_RULE_FILES,
    DEMO_OPTIONS,
    FLEET_OPTIONS,
    INVENTORY,
    MAX_SIMULATED_NODES,
    PROMETHEUS_OPTIONS,
    QUERY_OPTIONS,
    ExporterConfig,
    ExporterSchema,
    api_schema,
    config_prometheus_schema,
    demo_schema,
    fleet_schema,
    query_schema,
)
from .schema import (
    ENV_PREFIX,
    Option,
    Schema,
    Settings,
    bool_option,
    duration_option,
    int_option,
    list_option,
    number_option,
    read_config_file,
    regex_option,
    str_option,
)
from .values import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_PORT,
    MAX_DURATION,
    ConfigError,
    compile_option,
    format_duration,
    parse_duration,
    parse_listen_address,
)

__all__ = [
    "API_OPTIONS", "CONFIG_PROMETHEUS_OPTIONS", "CORE_OPTIONS", "ConfigError", "DEFAULT_API_LISTEN_ADDRESS",
    "DEFAULT_LISTEN_ADDRESS", "DEFAULT_PORT", "DEFAULT_PROMETHEUS_URL", "DEFAULT_RULE_FILES", "DEMO_OPTIONS",
    "ENV_PREFIX", "ExporterConfig", "ExporterSchema", "FLEET_OPTIONS", "INVENTORY", "MAX_DURATION",
    "MAX_FILE_BYTES", "MAX_SIMULATED_NODES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "Option",
    "PROMETHEUS_OPTIONS", "QUERY_OPTIONS", "Schema", "Settings", "api_schema", "bool_option",
    "compile_option", "config_prometheus_schema", "demo_schema", "duration_option", "fleet_schema",
    "format_duration", "int_option", "list_option", "load_yaml_file", "number_option", "parse_duration",
    "parse_listen_address", "parse_yaml", "query_schema", "read_config_file", "read_text_file",
    "read_token_file", "regex_option", "str_option",
]
