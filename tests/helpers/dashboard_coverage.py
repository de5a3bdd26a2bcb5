"""Node Exporter Full coverage: the dashboard's queries run against node_exporter and our exporter side by side.

Used by tests/integration/test_dashboard_coverage_node_exporter.py and bench/dashboard_coverage.py.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.procs import exporter, node_exporter, prom_query, prometheus, wait_for
from helpers.reference import reference_file

REPO = Path(__file__).resolve().parents[2]


SCRAPE_INTERVAL = "1s"


_VAR = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
RATE_INTERVAL = "10s"  # Grafana's $__rate_interval for a 1s scrape interval is at least 4 scrapes


def reference_dashboard() -> Path:
    """tests/reference/dashboards/node-exporter-full.json."""
    return reference_file("dashboards/node-exporter-full.json")


def expressions(obj: Any) -> Iterator[str]:
    """Every ``expr`` of every panel target, rows and nested panels included."""
    if isinstance(obj, dict):
        if isinstance(obj.get("expr"), str) and obj["expr"].strip():
            yield obj["expr"]
        for v in obj.values():
            yield from expressions(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from expressions(v)


def panel_queries(dashboard: dict[str, Any]) -> list[str]:
    """The distinct panel queries, in dashboard order."""
    return list(dict.fromkeys(expressions(dashboard.get("panels", []))))


def interpolate(expr: str, job: str, instance: str) -> str:
    """Grafana's substitution for this dashboard's variables (job, node, nodename, rate interval)."""
    values = {
        "job": job,
        "node": instance,
        "instance": instance,
        "__rate_interval": RATE_INTERVAL,
        "__interval": SCRAPE_INTERVAL,
        "__range": "1h",
    }

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))  # single-value variables: Grafana substitutes them as they are

    return _VAR.sub(sub, expr)


def has_data(base_url: str, expr: str) -> bool:
    """The instant query returns at least one finite value."""
    result = prom_query(base_url, expr)
    return any(math.isfinite(float(r["value"][1])) for r in result)


@dataclass
class Coverage:
    with_data: list[str]  # queries with data under node_exporter
    covered: list[str]  # ... that have data from ours too

    @property
    def share(self) -> float:
        return len(self.covered) / len(self.with_data)

    @property
    def missing(self) -> list[str]:
        return [q for q in self.with_data if q not in set(self.covered)]


def measure(base_url: str, queries: list[str], ne: tuple[str, str], ours: tuple[str, str]) -> Coverage:
    """Run every query for node_exporter's (job, instance) and ours; count the ones with data on each side."""
    with_data = [q for q in queries if has_data(base_url, interpolate(q, *ne))]
    covered = [q for q in with_data if has_data(base_url, interpolate(q, *ours))]
    return Coverage(with_data, covered)


@dataclass
class Setup:
    url: str
    ne: tuple[str, str]
    ours: tuple[str, str]
    queries: list[str]


@contextlib.contextmanager
def side_by_side() -> Iterator[tuple[str, tuple[str, str], tuple[str, str]]]:
    """Debian's node_exporter and ours (GPU off) scraped every second by one real Prometheus, with enough
    samples for rate() over RATE_INTERVAL on both jobs: (Prometheus URL, ("node", its address),
    ("spark", ours)). Also used by bench/dashboard_coverage.py."""
    with node_exporter() as ne, exporter("--no-collector.gpu", f"--collect.min-age={SCRAPE_INTERVAL}") as ours:
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "scrape_configs": [
                {"job_name": "node", "static_configs": [{"targets": [ne.address]}]},
                {"job_name": "spark", "static_configs": [{"targets": [ours.address]}]},
            ],
        }
        with prometheus(config) as prom:
            for job in ("node", "spark"):
                wait_for(
                    lambda job=job: prom_query(prom.url, f'count_over_time(up{{job="{job}"}}[{RATE_INTERVAL}]) >= 4'),
                    timeout=60,
                    interval=0.5,
                    what=f"4 scrapes of {job}",
                )
            time.sleep(1.0)
            yield prom.url, ("node", ne.address), ("spark", ours.address)

