"""Compatibility, measured: NVIDIA's dcgm-exporter Grafana dashboard against a real Prometheus scraping us.

Every query of ``tests/reference/dashboards/dcgm-exporter-dashboard.json`` is run with its template
variables resolved the way Grafana's "All" does: the values ``label_values(...)`` finds, joined into one
regex. Each must return data: the profiling panel (Tensor Core utilisation) too, from NVML's GPM API.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.gpu import DCGM_LABELS
from helpers.procs import exporter, http_get, parse_metrics, prom_query, prometheus, wait_for

DASHBOARD = "dashboards/dcgm-exporter-dashboard.json"  # in tests/reference/ (reference_file, conftest.py)
VARIABLE_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def dashboard(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def panel_queries(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) for every target, rows and nested panels included."""
    for panel in panels:
        yield from panel_queries(panel.get("panels", []))
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", "?"), target["expr"]


def label_values(prom_url: str, query: str) -> list[str]:
    """Grafana's ``label_values(METRIC, LABEL)`` against Prometheus's label-values API."""
    m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query.strip())
    assert m, f"unsupported template query {query!r}"
    params = urllib.parse.urlencode({"match[]": m.group(1)})
    body = json.loads(http_get(f"{prom_url}/api/v1/label/{m.group(2)}/values?{params}")[1])
    return list(body["data"])


def resolve(expr: str, variables: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return variables.get(name, m.group(0))
    return VARIABLE_RE.sub(sub, expr)


def template_variables(prom_url: str, board: dict[str, Any]) -> dict[str, str]:
    """Each query variable set to "All": its values, regex-escaped and joined with |.

    As Grafana does, the regex's backslashes are doubled, since it lands inside a PromQL string literal.
    """
    out: dict[str, str] = {}
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        values = label_values(prom_url, var.get("definition") or var["query"])
        assert values, f"template variable ${var['name']} has no values"
        out[var["name"]] = "(" + "|".join(re.escape(v).replace("\\", "\\\\") for v in values) + ")"
    return out


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(DCGM_FI_[A-Z0-9_]+)", expr))


@pytest.fixture(scope="module", params=["h100x8", "gb10"])  # read-only: one stack per profile
def stack(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """The exporter simulating a profile, and a Prometheus scraping it every second."""
    with exporter(f"--gpu.simulate={request.param}") as exp:
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "scrape_configs": [{"job_name": "dcgm-exporter",
                                      "static_configs": [{"targets": [exp.address]}]}]}
        with prometheus(config) as prom:
            wait_for(lambda: prom_query(prom.url, "DCGM_FI_DEV_GPU_TEMP"), 60, 0.5, "first GPU samples")
            # GPM's profiling fields arrive from the second scrape on
            wait_for(lambda: prom_query(prom.url, "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"), 60, 0.5, "profiling fields")
            yield exp, prom


class TestDcgmDashboard:
    def test_every_dashboard_query_returns_data(self, reference_file: Callable[[str], Path],
                                                stack: tuple[Any, Any]) -> None:
        """Every query of NVIDIA's dcgm-exporter dashboard returns data, Tensor Core utilisation included (8/8)."""
        _, prom = stack
        board = dashboard(reference_file(DASHBOARD))
        variables = template_variables(prom.url, board)
        queries = list(panel_queries(board["panels"]))
        assert len(queries) >= 8
        empty, answered = [], []
        for title, expr in queries:
            result = prom_query(prom.url, resolve(expr, variables))
            (answered if result else empty).append((title, expr))
        assert empty == []
        assert len(answered) == len(queries)
        assert any(metric_names(e) == {"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE"} for _, e in answered)

    def test_labels_arrive_intact_in_prometheus(self, stack: tuple[Any, Any]) -> None:
        """The DCGM label set (gpu, UUID, pci_bus_id, device, modelName, Hostname, driver) survives."""
        exp, prom = stack
        exposed = parse_metrics(http_get(exp.url + "/metrics")[1].decode())["DCGM_FI_DEV_GPU_TEMP"].samples
        want = sorted(tuple(s.labels[k] for k in DCGM_LABELS) for s in exposed)
        stored = prom_query(prom.url, "DCGM_FI_DEV_GPU_TEMP")
        got = sorted(tuple(r["metric"][k] for k in DCGM_LABELS) for r in stored)
        assert got == want
        assert {r["metric"]["job"] for r in stored} == {"dcgm-exporter"}
        assert {r["metric"]["instance"] for r in stored} == {exp.address}
