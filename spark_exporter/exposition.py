"""Render metric families to the Prometheus text format 0.0.4.

prometheus-client does the escaping and number formatting. The one thing it cannot do is a counter
whose name has no ``_total`` suffix: ``CounterMetricFamily`` renames it, and a raw counter ``Metric``
writes ``# TYPE X_total`` above samples named ``X``. dcgm-exporter writes ``# TYPE X counter`` with
samples ``X{...}``, and its dashboards query ``X``. :class:`ExactCounterFamily` is rendered that way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


def render(families: Iterable[Metric]) -> bytes:
    """Render families in order. Families with the same name are merged so each name appears once."""
    merged: dict[str, Metric] = {}
    for fam in families:
        have = merged.get(fam.name)
        if have is None:
            merged[fam.name] = fam
        else:
            have.samples.extend(fam.samples)
    text = generate_latest(_Families(list(merged.values())))  # type: ignore[arg-type]
    for fam in merged.values():
        if isinstance(fam, ExactCounterFamily):
            text = text.replace(f"# TYPE {fam.name} gauge\n".encode(), f"# TYPE {fam.name} counter\n".encode(), 1)
    return text
