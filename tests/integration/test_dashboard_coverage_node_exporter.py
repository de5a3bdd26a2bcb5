"""Node Exporter Full coverage, measured on a real Prometheus: of the dashboard's queries that return data from
Debian's node_exporter on this machine, the share that also return data from our exporter.

Both exporters run with their default collectors and are scraped by one Prometheus (jobs ``node`` and
``spark``). Every panel query of ``node-exporter-full.json`` (in tests/reference/) is run twice with Grafana's
variables set to each job and instance. Metric names alone would overstate coverage (a family can exist with
the wrong labels); this counts what a user of the dashboard sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpers.dashboard_coverage import (
    Setup,
    interpolate,
    measure,
    panel_queries,
    reference_dashboard,
    side_by_side,
)

REQUIRED_SHARE = 0.95  # at least 95% of the queries with data under node_exporter (docs/host-collectors.md)


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    queries = panel_queries(json.loads(reference_dashboard().read_text()))
    with side_by_side() as (url, ne, ours):
        yield Setup(url, ne, ours, queries)


class TestNodeExporterFullCoverage:
    def test_share_of_queries_with_data(self, setup: Setup) -> None:
        """At least 95% of the queries that have data under node_exporter have data from our exporter."""
        cov = measure(setup.url, setup.queries, setup.ne, setup.ours)
        assert len(cov.with_data) > 100, "node_exporter answered too few queries for the measure to mean anything"
        assert cov.share >= REQUIRED_SHARE, (
            f"{len(cov.covered)}/{len(cov.with_data)} = {cov.share:.1%}; without data from ours: {cov.missing}"
        )

    def test_measure_detects_a_missing_exporter(self, setup: Setup) -> None:
        """The measure is not vacuous: against a job that does not exist the share is zero."""
        sample = setup.queries[:20]
        cov = measure(setup.url, sample, setup.ne, ("no-such-job", setup.ours[1]))
        assert cov.with_data and cov.covered == []

    def test_interpolation(self) -> None:
        """Job and instance are substituted as Grafana does for single values; $__rate_interval is the window."""
        expr = 'rate(x{instance="$node",job="${job}"}[$__rate_interval])'
        assert interpolate(expr, "node", "127.0.0.1:9100") == 'rate(x{instance="127.0.0.1:9100",job="node"}[10s])'
