"""Value parsers shared by every setting: durations, listen addresses, regular expressions, scalars.

Each parser takes what a flag, an environment variable or a YAML file gave (a string, or a YAML
scalar) and returns the typed value, or raises ``ValueError`` with a message that says what was
expected. The caller (:mod:`spark_exporter.settings.schema`) prefixes where the value came from.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from typing import Any

DEFAULT_PORT = 19400
DEFAULT_LISTEN_ADDRESS = f":{DEFAULT_PORT}"

# A duration beyond this is a typo or an attack (1e30s overflows timers): refuse it.
MAX_DURATION = 365 * 86400.0  # s


class ConfigError(Exception):
    """A configuration value is missing, malformed or unknown. The message names where it came from."""


# Prometheus' duration syntax (model.ParseDuration): whole numbers, units in descending order, each
# at most once. The one duration grammar of this project, for our settings and for prometheus.yml.
_UNITS = (("y", 31536000.0), ("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0),
          ("ms", 0.001))
_DURATION_RE = re.compile("".join(rf"(?:(?P<{u}>[0-9]+){u})?" for u, _ in _UNITS))
_DURATION_HINT = "Prometheus syntax, e.g. 15s, 1m, 1m30s"


def parse_duration(text: Any) -> float:
    """Seconds in a Prometheus duration (``500ms``, ``15s``, ``1m30s``, ``0``); else ValueError.

    Bare numbers other than ``0`` are refused (a unit is required, as in Prometheus), and so is
    anything longer than :data:`MAX_DURATION`, including YAML's ``.inf``, ``.nan`` and ``1e30``.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        if text == 0:
            return 0.0
        raise ValueError(f"invalid duration {text!r} ({_DURATION_HINT}; a bare number needs a unit)")
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as 15s, got {type(text).__name__}")
    if text == "0":
        return 0.0
    m = _DURATION_RE.fullmatch(text)
    if not text or m is None:
        raise ValueError(f"invalid duration {text!r} ({_DURATION_HINT})")
    seconds = sum(int(m.group(u)) * size for u, size in _UNITS if m.group(u) is not None)
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than the maximum of {format_duration(MAX_DURATION)}")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration (``90`` -> ``1m30s``, ``0.5`` -> ``500ms``, ``0`` -> ``0s``)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = ""
    for unit, size in _UNITS:
        n, ms = divmod(ms, round(size * 1000))
        if n:
            out += f"{n}{unit}"
    return out


def as_bool(value: Any) -> bool:
    """A bool from a bool or 1/0, true/false, yes/no, on/off (any case); ValueError otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def as_str(value: Any) -> str:
    """A str from a str, int or float; ValueError for other types (bool included) and control characters."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    text = str(value)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError(f"control characters are not allowed, got {text!r}")
    return text


def as_optional_str(value: Any) -> str | None:
    """None for None or ``""``, else as_str(value)."""
    if value is None or value == "":
        return None
    return as_str(value)


def as_int(value: Any) -> int:
    """An int from an int, a whole float or a decimal string of up to 18 digits; ValueError otherwise."""
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    text = str(int(value)) if isinstance(value, float) else str(value).strip()
    if not re.fullmatch(r"-?[0-9]{1,18}", text):
        raise ValueError(f"expected an integer, got {value!r}")
    return int(text)


def as_number(value: Any) -> float:
    """A finite decimal number (``10``, ``0.5``); ``.nan``, ``.inf`` and words are refused."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    try:
        out = float(value) if isinstance(value, int | float) else float(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not math.isfinite(out) or abs(out) > 1e9:
        raise ValueError(f"expected a finite number, got {value!r}")
    return out


def as_str_list(value: Any) -> tuple[str, ...]:
    """A list of strings: a YAML list, or a comma-separated string (environment, one flag)."""
    items = value if isinstance(value, list | tuple) else str(as_str(value)).split(",")
    return tuple(s for s in (as_str(v).strip() for v in items) if s)


def as_regex(value: Any) -> str:
    """A regular expression (Python ``re`` syntax, which covers node_exporter's defaults)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression string, got {type(value).__name__}")
    with warnings.catch_warnings():
        # re warns (FutureWarning) where it reads a pattern other than as written, e.g. Go's POSIX class
        # [[:alpha:]] (RE2 syntax, valid in node_exporter's flags), which re takes as a set of characters.
        warnings.simplefilter("error", FutureWarning)
        try:
            re.compile(value)
        except re.error as e:
            raise ValueError(f"invalid regular expression {value!r}: {e}") from None
        except FutureWarning as e:
            hint = "; POSIX classes such as [[:alpha:]] are Go syntax, write [a-zA-Z]" if "[:" in value else ""
            raise ValueError(f"ambiguous regular expression {value!r}: {e}{hint}") from None
    return value


def compile_option(config: Mapping[str, Any] | Any, key: str) -> re.Pattern[str] | None:
    """Compile a regex setting; an empty one means "no filter". Errors name the setting."""
    text = config[key]
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as e:  # only reachable when a config object was built by hand
        raise ConfigError(f"{key}: invalid regular expression {text!r}: {e}") from None


def parse_listen_address(addr: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``:PORT`` means all interfaces, ``[::1]:PORT`` for IPv6)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not re.fullmatch(r"[0-9]{1,5}", port) or int(port) > 65535:
        raise ValueError(f"invalid listen address {addr!r} (expected HOST:PORT, e.g. :{DEFAULT_PORT})")
    host = host.strip("[]")
    if not re.fullmatch(r"[A-Za-z0-9.:%_-]*", host):
        raise ValueError(f"invalid host in listen address {addr!r}")
    return host, int(port)


def as_listen_address(value: Any) -> str:
    """The address string unchanged once parse_listen_address accepts it; ValueError otherwise."""
    s = as_str(value)
    parse_listen_address(s)
    return s


# The GPU simulator's profile syntax. The models' facts live in nvml/profiles.py (MODELS), whose keys
# must be SIMULATOR_MODELS (tests/unit/test_layers.py checks it): settings is the bottom layer and
# imports nothing of nvml, yet a typo in --gpu.simulate or demo --profile must fail while parsing.
SIMULATOR_MODELS = ("gb10", "h100")
MAX_SIMULATED_GPUS = 64
_PROFILE_RE = re.compile(rf"^({'|'.join(SIMULATOR_MODELS)})(?:x(\d{{1,3}}))?$")


def parse_simulator_profile(text: Any) -> tuple[str, int]:
    """``"h100x8"`` -> ``("h100", 8)`` (model, GPU count); raises ValueError with the accepted forms."""
    m = _PROFILE_RE.match(str(text).strip().lower())
    if m is None:
        raise ValueError(
            f"unknown GPU simulation profile {text!r} (use gb10, h100, or a count suffix: h100x8)")
    count = int(m.group(2) or 1)
    if not 1 <= count <= MAX_SIMULATED_GPUS:
        raise ValueError(f"GPU count in {text!r} must be between 1 and {MAX_SIMULATED_GPUS}")
    return m.group(1), count
