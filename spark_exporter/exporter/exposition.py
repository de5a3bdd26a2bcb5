"""Render metric families to the Prometheus text format 0.0.4.

The bytes are prometheus-client's ``generate_latest`` output (a test holds the two together), with
one difference: an :class:`~spark_exporter.collectors.families.ExactCounterFamily` (a DCGM counter
without ``_total``) gets ``# TYPE X counter`` where the library writes ``# TYPE X gauge``, which is
what dcgm-exporter writes (the golden tests in ``tests/golden/`` pin those bytes).

Why a renderer of our own for the common families: with ``generate_latest`` for everything, one
scrape-driven collection of the host collectors cost 1.07x node_exporter's CPU at one scrape every
15 s (bench/bench_host.py; docs/benchmarks.md has the run), against a target of at most 1x. The
library formats each sample through several validation and escaping calls (about 1.1 ms of a 3.6 ms
collection); this renderer writes gauge, counter, untyped and info families directly, caching the
text of label sets that repeat from one collection to the next (0.3-0.4 ms). Anything else
(histograms, summaries, ``_created`` samples, timestamps, exemplars, names outside the legacy
character set) goes to ``generate_latest`` unchanged. A
:class:`~spark_exporter.collectors.families.RowFamily` (the gpu collector's families) carries its label
text already written, once per label set, by the collector: its rows are written as they are (issue 20:
building prometheus-client families and rendering them was 2.2 ms of a 4.9 ms scrape of 8 H100s).

Families are checked as they are rendered, without being modified:

* families that share a name and a type are served as one family (the first one's HELP), in the
  position of the first;
* a family whose name was already taken by a family of another type is an error: it is left out;
* a sample whose (name, labels) pair was already served is an error: it is left out.

Each kind of error is logged at warning level once per metric name for the life of the ``warned`` set
(a :class:`Renderer` keeps one; the collection keeps one renderer for the life of the process), and at
debug level after.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import structlog
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from ..collectors.families import ExactCounterFamily, RowFamily, escape_label_value, is_exact_counter

__all__ = ["CONTENT_TYPE", "ExactCounterFamily", "Renderer", "check", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = structlog.get_logger(component="exposition")


class _Families:
    """The ``collect()`` interface ``generate_latest`` reads, over a fixed list."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Sequence[Metric]:
        return self._families


def _type_of(family: Metric) -> str:
    return "exact-counter" if is_exact_counter(family) else family.type


def _report(warned: set[tuple[str, str]] | None, event: str, name: str, **details: object) -> None:
    key = (event, name)
    if warned is not None and key in warned:
        log.debug(event, metric=name, **details)
        return
    if warned is not None:
        warned.add(key)
    log.warning(event, metric=name, **details)


def _group(families: Iterable[Metric], warned: set[tuple[str, str]] | None) -> dict[str, list[Metric]]:
    """Families by name, in order of first appearance; a family whose type clashes is left out."""
    by_name: dict[str, list[Metric]] = {}
    for fam in families:
        group = by_name.get(fam.name)
        if group is None:
            by_name[fam.name] = [fam]
        elif _type_of(group[0]) != _type_of(fam):
            _report(warned, "metric_type_clash", fam.name, served=_type_of(group[0]), dropped=_type_of(fam))
        else:
            group.append(fam)
    return by_name


def _joined(name: str, group: Sequence[Metric], warned: set[tuple[str, str]] | None) -> Metric:
    """One family holding the group's samples, duplicates left out; the inputs are not modified."""
    first = group[0]
    seen: set[tuple[object, ...]] = set()
    kept = []
    for fam in group:
        for s in fam.samples:
            key = (s.name, *sorted(s.labels.items()))
            if key not in seen:
                seen.add(key)
                kept.append(s)
    dropped = sum(len(f.samples) for f in group) - len(kept)
    if dropped:
        _report(warned, "duplicate_series", name, dropped=dropped)
    if len(group) == 1 and not dropped:
        return first
    copy = (ExactCounterFamily(name, first.documentation) if is_exact_counter(first)
            else Metric(name, first.documentation, first.type, first.unit))
    copy.samples = kept
    return copy


def check(families: Iterable[Metric], warned: set[tuple[str, str]] | None = None) -> list[Metric]:
    """The families to serve: same-name families joined, type clashes and duplicate series left out.

    The input families are not modified; a joined or filtered family is a new ``Metric`` (or
    ``ExactCounterFamily``) with the first family's name, HELP and type.
    """
    return [_joined(name, group, warned) for name, group in _group(families, warned).items()]


_FAST_TYPES = {"gauge": "gauge", "counter": "counter", "unknown": "untyped", "info": "gauge"}
_SUFFIXES = {"counter": "_total", "info": "_info"}
_OM_ONLY = ("_created", "_gsum", "_gcount")  # samples generate_latest moves into families of their own
LabelKey = tuple[tuple[str, str], ...]
_MISSING = "\x00missing"  # not a label text: cache-miss marker
# The legacy character sets; outside them generate_latest quotes or escapes names, so such families go to it.
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


_SPECIAL_FLOATS = {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}


def go_float(value: float) -> str:
    """``floatToGoString(value)`` (prometheus-client's sample value text), with its common case inline:
    Python's ``repr`` unless the value is infinite, NaN, or positive with more than six digits before the
    point (where Go writes an exponent sooner than Python, and the library's function is called).
    """
    s = repr(float(value))
    if s[-1] in "fn":  # inf, -inf, nan
        return _SPECIAL_FLOATS[s]
    if value > 0 and s.find(".") > 6:
        return floatToGoString(value)
    return s


#: Value texts remembered by a Renderer: a scrape's repeated values (hundreds), not every counter reading.
VALUE_CACHE_SIZE = 2048


class Renderer:
    """Renders collections; keeps the warned-once set and a bounded cache of label-set text.

    The cache maps a sorted label set to its ``{k="v",...}`` text. Label sets repeat from one
    collection to the next, so most lookups hit; pids and devices come and go, so the cache is cleared
    when it reaches ``label_cache_size`` entries.
    """

    def __init__(self, label_cache_size: int = 20_000) -> None:
        self.warned: set[tuple[str, str]] = set()
        self._label_text: dict[LabelKey, str | None] = {}  # None: a label name outside the legacy set
        self._names: dict[str, bool] = {}  # metric name -> valid in the legacy character set
        self._headers: dict[tuple[str, str, str], str] = {}  # (exposed name, type, HELP) -> HELP and TYPE lines
        # value -> its text: most values repeat from one scrape to the next (482 of 591 lines on a test host)
        self._values: dict[float, str] = {}
        self._label_cache_size = label_cache_size

    def render(self, families: Iterable[Metric]) -> bytes:
        """The text exposition of ``families`` in their order (UTF-8 bytes), checked as above."""
        out: list[str] = []
        for name, group in _group(families, self.warned).items():
            if len(group) == 1 and isinstance(group[0], RowFamily):
                self._render_rows(group[0], out)
            elif not self._render_fast(name, group, out):
                fam = _joined(name, group, self.warned)
                text = generate_latest(_Families([fam])).decode()  # type: ignore[arg-type]
                if is_exact_counter(fam):
                    text = text.replace(f"\n# TYPE {name} gauge\n", f"\n# TYPE {name} counter\n", 1)
                out.append(text)
        return "".join(out).encode()

    def _value(self, value: float) -> str:
        """prometheus-client's text for ``value`` (floatToGoString), remembered for finite non-zero values
        (0.0 and -0.0 are equal keys but different texts; NaN never equals itself)."""
        if value == 0:
            return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
        text = self._values.get(value)
        if text is None:
            text = floatToGoString(value)
            if math.isfinite(value):
                if len(self._values) >= VALUE_CACHE_SIZE:
                    self._values.clear()
                self._values[value] = text
        return text

    def _valid_name(self, name: str) -> bool:
        ok = self._names.get(name)
        if ok is None:
            if len(self._names) >= self._label_cache_size:
                self._names.clear()
            ok = self._names[name] = _METRIC_NAME.fullmatch(name) is not None
        return ok

    def _labels(self, key: LabelKey) -> str | None:
        if len(self._label_text) >= self._label_cache_size:
            self._label_text.clear()
        if any(_LABEL_NAME.fullmatch(k) is None or k.startswith("__") for k, _ in key):
            text = None
        else:
            text = "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in key) + "}"
        self._label_text[key] = text
        return text

    def _render_rows(self, fam: RowFamily, out: list[str]) -> None:
        """Append a RowFamily's text to ``out``: its rows' label text as the collector wrote it (the bytes
        ``_render_fast`` would write for the same samples), a repeated label set left out."""
        sname = fam.sample_name
        typ = "counter" if fam.exact else fam.type
        key = (sname, typ, fam.documentation)
        header = self._headers.get(key)
        if header is None:
            if len(self._headers) >= self._label_cache_size:
                self._headers.clear()
            doc = fam.documentation.replace("\\", r"\\").replace("\n", r"\n")
            header = self._headers[key] = f"# HELP {sname} {doc}\n# TYPE {sname} {typ}\n"
        lines = [header]
        seen: set[str] = set()
        for _values, text, value in fam.rows:
            if text in seen:
                continue
            seen.add(text)
            lines.append(f"{sname}{text} {go_float(value)}\n")
        dropped = len(fam.rows) + 1 - len(lines)
        if dropped:
            _report(self.warned, "duplicate_series", fam.name, dropped=dropped)
        out.extend(lines)

    def _render_fast(self, name: str, group: Sequence[Metric], out: list[str]) -> bool:
        """Append the group's text to ``out`` and return True, or return False (and append nothing)."""
        first = group[0]
        typ = _FAST_TYPES.get(first.type)
        if typ is None:
            return False
        exposed = name + _SUFFIXES.get(first.type, "")
        if is_exact_counter(first):
            typ = "counter"
        if not self._valid_name(exposed):
            return False
        doc = first.documentation.replace("\\", r"\\").replace("\n", r"\n")
        lines = [f"# HELP {exposed} {doc}\n# TYPE {exposed} {typ}\n"]
        seen: set[tuple[str, LabelKey]] = set()
        label_text = self._label_text
        dropped = 0
        for fam in group:
            for s in fam.samples:
                if s.timestamp is not None or s.exemplar is not None or s.native_histogram is not None:
                    return False
                sname = s.name
                if sname.endswith(_OM_ONLY) or not self._valid_name(sname):
                    return False
                key = tuple(sorted(s.labels.items())) if s.labels else ()
                if (sname, key) in seen:
                    dropped += 1
                    continue
                seen.add((sname, key))
                text = label_text.get(key, _MISSING) if key else ""
                if text is _MISSING:
                    text = self._labels(key)
                if text is None:
                    return False
                lines.append(f"{sname}{text} {self._value(s.value)}\n")
        if dropped:
            _report(self.warned, "duplicate_series", name, dropped=dropped)
        out.extend(lines)
        return True


def render(families: Iterable[Metric], warned: set[tuple[str, str]] | None = None) -> bytes:
    """The text exposition of ``families`` (UTF-8 bytes), with a fresh :class:`Renderer`.

    ``warned``, when given, is the set of errors already logged at warning level, and is updated.
    """
    renderer = Renderer()
    if warned is not None:
        renderer.warned = warned
    return renderer.render(families)
