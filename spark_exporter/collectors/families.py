"""Metric family types of our own, on top of prometheus-client's: collectors build them, the exporter's
renderer (exporter/exposition.py) writes them."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.samples import Sample


class ExactCounterFamily(GaugeMetricFamily):
    """A counter exposed under exactly ``name`` (no ``_total``), as dcgm-exporter exposes its counters.

    prometheus-client's ``CounterMetricFamily`` appends ``_total`` to the sample names, and a raw
    counter ``Metric`` writes ``# TYPE X_total counter`` above samples named ``X``; dcgm-exporter writes
    ``# TYPE X counter`` with samples ``X{...}``, and its dashboards query ``X``. Samples are added like a
    gauge's (``add_metric(labels, value)``); the renderer writes the ``# TYPE`` line as ``counter``.
    """

    exposed_type = "counter"


def is_exact_counter(fam: Metric) -> bool:
    """Whether ``fam`` is a DCGM-style counter exposed under its own name (ExactCounterFamily, exact RowFamily)."""
    return isinstance(fam, ExactCounterFamily) or (isinstance(fam, RowFamily) and fam.exact)


_LEGACY_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def escape_label_value(value: str) -> str:
    """A label value escaped as the text format 0.0.4 (and prometheus-client) writes it: ``\\``, newline, ``"``."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


def label_text(names: Sequence[str], values: Sequence[str]) -> str:
    """The ``{k="v",...}`` text of a label set, names sorted and values escaped, as prometheus-client's
    ``generate_latest`` writes it; ``""`` for no labels. ``names`` and ``values`` pair up by position.
    """
    if not names:
        return ""
    return "{" + ",".join(f'{k}="{escape_label_value(v)}"' for k, v in sorted(zip(names, values, strict=True))) + "}"


@functools.lru_cache(maxsize=256)
def _check_names(name: str, label_names: tuple[str, ...]) -> None:
    if _LEGACY_METRIC_NAME.fullmatch(name) is None:
        raise ValueError(f"invalid metric name: {name!r}")
    for k in label_names:
        if _LEGACY_LABEL_NAME.fullmatch(k) is None or k.startswith("__"):
            raise ValueError(f"invalid label name: {k!r}")


class RowFamily(Metric):
    """A gauge or counter family with fixed label names, whose rows carry their label text already written.

    Built for families with many samples that share label sets from one collection to the next (the gpu
    collector's): a row is ``(label values, label text, value)``, where the text is :func:`label_text` of
    the family's label names and those values, computed by the collector once per label set rather than per
    sample. The exporter's renderer writes rows directly, with the same bytes ``generate_latest`` would write
    for the equivalent prometheus-client family. ``samples`` builds prometheus-client ``Sample`` objects on
    demand, so anything that reads families generically still works.

    ``typ`` is ``"gauge"`` or ``"counter"``; a counter's samples are named ``name_total`` (as
    ``CounterMetricFamily``'s) unless ``exact`` (as :class:`ExactCounterFamily`'s: ``# TYPE name counter``,
    samples ``name``; ``type`` is then ``"gauge"``, like ExactCounterFamily's). Raises ValueError for a
    metric or label name outside the legacy character set.
    """

    def __init__(self, name: str, documentation: str, typ: str, label_names: tuple[str, ...],
                 exact: bool = False) -> None:
        _check_names(name, label_names)
        if typ not in ("gauge", "counter"):
            raise ValueError(f"RowFamily type must be gauge or counter, not {typ!r}")
        self.name = name
        self.documentation = documentation
        self.type = "gauge" if exact else typ
        self.unit = ""
        self.exact = exact
        self.sample_name = name + "_total" if typ == "counter" and not exact else name
        self.label_names = label_names
        self.rows: list[tuple[tuple[str, ...], str, float]] = []

    def add(self, values: tuple[str, ...], text: str, value: float) -> None:
        """One sample: label ``values`` (order of ``label_names``), their :func:`label_text`, and the value."""
        self.rows.append((values, text, value))

    @property  # type: ignore[override]
    def samples(self) -> list[Sample]:  # built on demand: the renderer reads ``rows``
        names, sname = self.label_names, self.sample_name
        return [Sample(sname, dict(zip(names, values, strict=True)), float(value)) for values, _, value in self.rows]

    @samples.setter
    def samples(self, _value: list[Sample]) -> None:
        raise AttributeError("RowFamily samples are its rows: use add()")


class LabelTexts:
    """:func:`label_text` for one tuple of label names, remembered per tuple of values.

    Label sets repeat from one collection to the next (a GPU's, a process's), so most calls are a dictionary
    lookup; the memory is cleared when it holds ``size`` label sets (pids come and go).
    """

    def __init__(self, names: tuple[str, ...], size: int) -> None:
        self.names = names
        self._size = size
        self._texts: dict[tuple[str, ...], str] = {}

    def __call__(self, values: tuple[str, ...]) -> str:
        text = self._texts.get(values)
        if text is None:
            if len(self._texts) >= self._size:
                self._texts.clear()
            text = self._texts[values] = label_text(self.names, values)
        return text
