"""Metric family types of our own, on top of prometheus-client's: collectors build them, the exporter's
renderer (exporter/exposition.py) writes them."""

from __future__ import annotations

from prometheus_client.metrics_core import GaugeMetricFamily


class ExactCounterFamily(GaugeMetricFamily):
    """A counter exposed under exactly ``name`` (no ``_total``), as dcgm-exporter exposes its counters.

    prometheus-client's ``CounterMetricFamily`` appends ``_total`` to the sample names, and a raw
    counter ``Metric`` writes ``# TYPE X_total counter`` above samples named ``X``; dcgm-exporter writes
    ``# TYPE X counter`` with samples ``X{...}``, and its dashboards query ``X``. Samples are added like a
    gauge's (``add_metric(labels, value)``); the renderer writes the ``# TYPE`` line as ``counter``.
    """

    exposed_type = "counter"
