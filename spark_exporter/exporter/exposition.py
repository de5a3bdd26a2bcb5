"""Render metric families to the Prometheus text format 0.0.4.

The output is byte-for-byte what prometheus-client's ``generate_latest`` writes (a test holds the two
together), with two differences:

* :class:`ExactCounterFamily`: a counter whose name has no ``_total`` suffix. ``CounterMetricFamily``
  renames such a counter, and a raw counter ``Metric`` writes ``# TYPE X_total`` above samples named
  ``X``. dcgm-exporter writes ``# TYPE X counter`` with samples ``X{...}``, and its dashboards query
  ``X``; this family is rendered that way.
* Speed: a collection renders every few seconds, and most label sets repeat from one collection to
  the next, so the rendered ``{...}`` part of each label set is cached. Gauge, counter, untyped and
  info families are written here; anything else (histograms, summaries, ``_created`` samples) is
  handed to ``generate_latest`` unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LABEL_CACHE_MAX = 100_000  # label sets; pids and devices come and go, so the cache is bounded
_label_cache: dict[tuple[tuple[str, str], ...], str] = {}
_FAST_TYPES = {"gauge": "gauge", "counter": "counter", "unknown": "untyped", "info": "gauge"}


class ExactCounterFamily(GaugeMetricFamily):
    """A counter exposed under exactly ``name`` (no ``_total``), as dcgm-exporter exposes its counters.

    Samples are added like a gauge's; the renderer writes the ``# TYPE`` line as ``counter``.
    """

    exposed_type = "counter"


class _Families:
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Sequence[Metric]:
        return self._families


def _escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    key = tuple(sorted(labels.items()))
    text = _label_cache.get(key)
    if text is None:
        text = "{" + ",".join(f'{k}="{_escape_label_value(v)}"' for k, v in key) + "}"
        if len(_label_cache) >= _LABEL_CACHE_MAX:
            _label_cache.clear()
        _label_cache[key] = text
    return text


def _fast_path(family: Metric) -> bool:
    if family.type not in _FAST_TYPES:
        return False
    return not any(s.name.endswith(("_created", "_gsum", "_gcount")) or s.timestamp is not None
                   for s in family.samples)


def _render_family(family: Metric, out: list[str]) -> None:
    name = family.name
    typ = _FAST_TYPES[family.type]
    if isinstance(family, ExactCounterFamily):
        typ = "counter"
    elif family.type == "counter":
        name += "_total"
    elif family.type == "info":
        name += "_info"
    doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
    out.append(f"# HELP {name} {doc}\n# TYPE {name} {typ}\n")
    for s in family.samples:
        out.append(f"{s.name}{_labels_text(s.labels)} {floatToGoString(s.value)}\n")


def render(families: Iterable[Metric]) -> bytes:
    """Render families in order. Families with the same name are merged so each name appears once."""
    merged: dict[str, Metric] = {}
    for fam in families:
        have = merged.get(fam.name)
        if have is None:
            merged[fam.name] = fam
        else:
            have.samples.extend(fam.samples)
    out: list[str] = []
    for fam in merged.values():
        if _fast_path(fam):
            _render_family(fam, out)
        else:
            out.append(generate_latest(_Families([fam])).decode())  # type: ignore[arg-type]
    return "".join(out).encode()
