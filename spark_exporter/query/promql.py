"""PromQL building. User input reaches a query only through :func:`quote`, the one escaping function.

Everything else that ends up in a query string is either a constant of this module, a metric or
label *name* checked against Prometheus' name grammar, or a duration chosen from a fixed table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Prometheus' data model grammar for names (colons are allowed in metric names for recording rules).
_METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MATCH_OPS = ("=", "!=", "=~", "!~")

# Escapes the PromQL lexer understands inside a double-quoted string (Go string-literal rules).
_NAMED_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\v",
}


def quote(value: str) -> str:
    """Return ``value`` as a double-quoted PromQL string literal that the parser reads back unchanged.

    Backslash and double quote are escaped, control characters become ``\\n``-style or ``\\xHH``
    escapes, and everything else is passed through as UTF-8. Text that cannot be encoded as UTF-8
    (lone surrogates) has no PromQL representation and is refused.
    """
    if not isinstance(value, str):
        raise TypeError(f"PromQL string literal needs str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (lone surrogate); it cannot appear in PromQL") from None
    out = ['"']
    for ch in value:
        esc = _NAMED_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def metric_name(name: str) -> str:
    """``name`` unchanged if it is a valid metric name; ValueError otherwise."""
    if not _METRIC_NAME_RE.match(name):
        raise ValueError(f"invalid metric name {name!r}")
    return name


def label_name(name: str) -> str:
    """``name`` unchanged if it is a valid label name; ValueError otherwise."""
    if not _LABEL_NAME_RE.match(name):
        raise ValueError(f"invalid label name {name!r}")
    return name


@dataclass(frozen=True)
class Matcher:
    """One label matcher; the value is always rendered through :func:`quote`."""

    label: str
    value: str
    op: str = "="

    def render(self) -> str:
        """``label<op>"value"`` with the value escaped; ValueError for a bad operator or label name."""
        if self.op not in _MATCH_OPS:
            raise ValueError(f"invalid matcher operator {self.op!r}")
        return f"{label_name(self.label)}{self.op}{quote(self.value)}"


def selector(metric: str | None, matchers: Mapping[str, str] | tuple[Matcher, ...] = ()) -> str:
    """``metric{l1="v1",...}``; with ``metric=None`` a name-less selector (needs a matcher)."""
    ms = tuple(Matcher(k, v) for k, v in matchers.items()) if isinstance(matchers, Mapping) else matchers
    body = ",".join(m.render() for m in ms)
    if metric is None:
        if not ms:
            raise ValueError("a selector without a metric name needs at least one matcher")
        return "{" + body + "}"
    return metric_name(metric) + ("{" + body + "}" if body else "")


def number(value: float) -> str:
    """A finite float as a PromQL number literal (``repr``, which the lexer reads back exactly); ValueError for
    NaN or infinity."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    return repr(float(value))


def literal_alternation(values: Iterable[str]) -> str:
    """An RE2 regex (for a ``=~`` Matcher, which quotes it) matching exactly one of ``values``: each escaped
    with :func:`re.escape`, whose backslash escapes of punctuation RE2 reads as the literal character."""
    return "|".join(re.escape(v) for v in values)


def by(*labels: str) -> str:
    """An aggregation clause ``by (a, b)`` from checked label names."""
    return "by (" + ", ".join(label_name(x) for x in labels) + ")"


# Durations that may appear inside a query, and nothing else: PromQL duration syntax.
_DURATION_RE = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")


def duration(text: str) -> str:
    """``text`` unchanged if it is a valid PromQL duration (``5m``, ``1h30m``); ValueError otherwise."""
    if not _DURATION_RE.match(text):
        raise ValueError(f"invalid PromQL duration {text!r}")
    return text


def seconds_to_duration(seconds: float) -> str:
    """Whole seconds as a PromQL duration (``90`` -> ``90s``, ``3600`` -> ``1h``)."""
    s = int(seconds)
    if s <= 0 or s != seconds:
        raise ValueError(f"duration must be a positive whole number of seconds, got {seconds!r}")
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


# The label that tags each part of a bundled query; chosen not to clash with exporter labels.
FIELD_LABEL = "spark_exporter_field"


def tag(field_name: str, expr: str) -> str:
    """``expr`` with every result element labelled ``FIELD_LABEL=field_name`` (via label_replace)."""
    return f'label_replace(({expr}), {quote(FIELD_LABEL)}, {quote(field_name)}, "", "")'


def bundle(parts: Mapping[str, str]) -> str:
    """Several expressions in one query: each part tagged with its name, joined with ``or``.

    One HTTP round trip and one evaluation instead of one per field; the tag keeps the parts'
    label sets distinct so ``or`` drops nothing.
    """
    if not parts:
        raise ValueError("empty bundle")
    return " or ".join(tag(name, expr) for name, expr in parts.items())
