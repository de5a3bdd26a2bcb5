"""vLLM 0.34's own Grafana dashboards (tests/reference/vllm/dashboards-0.34) against the 0.34 stand-in.

The stand-in runs on the newest prometheus_client, so Debian's Prometheus 2.42 gets escaped names
(``vllm_...``); the generated configuration's relabelling stores vLLM's own, the form the dashboards are
written for. Every query of the three dashboards, with Grafana's variables resolved, returns data.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.inference_targets import CLUSTER, RULES_DIR, stand_in
from helpers.procs import Proc, free_port, prom_query, prometheus, tempdir, wait_for
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

pytestmark = pytest.mark.integration

DASHBOARDS = Path(__file__).resolve().parents[1] / "reference" / "vllm" / "dashboards-0.34"
MODEL = "Qwen/Qwen3-8B"
# Grafana's variables: the model (a regex where the dashboards use =~), and every interval one minute
# of 1 s scrapes.
VARIABLES = {"$model_name": MODEL, "$Deployment_id": MODEL, "$__rate_interval": "1m", "$__interval": "1m",
             "$__range": "1m"}


def queries() -> list[tuple[str, str]]:
    """(dashboard/panel/refId, expr) of every query of the three dashboards."""
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text())

        def panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [p for item in items for p in [item, *panels(item.get("panels", []))]]
        out += [(f"{path.stem}/{p['title']}/{t['refId']}", t["expr"]) for p in panels(dashboard["panels"])
                for t in p.get("targets", []) if t.get("expr")]
    return out


def resolve(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, expr
    return expr


@pytest.fixture(scope="module")
def prom_034() -> Iterator[Proc]:
    """The vLLM 0.34 stand-in and Prometheus 2.42 on the generated configuration and rules/."""
    with stand_in("vllm_sim", "--vllm-version=0.34", f"--model={MODEL}", "--seed=7", "--rate=4") as vllm, \
            tempdir("vllm-034") as d:
        inventory = d / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"cluster": CLUSTER, "nodes": [
            {"name": "spark-01", "exporter": f"127.0.0.1:{free_port()}", "vllm": vllm.address}]}))
        config = build_prometheus_config(load_inventory(str(inventory)), [], scrape_interval="1s",
                                         evaluation_interval="1s")
        with prometheus(config, rule_files=sorted(RULES_DIR.glob("*.yml"))) as prom:
            yield prom


def test_the_dashboards_have_vllms_67_queries() -> None:
    """The reference copy is 0.34's: 32 + 21 + 14 queries."""
    assert len(queries()) == 67


@pytest.mark.parametrize("query", queries(), ids=lambda q: q[0])
def test_every_query_returns_data(prom_034: Proc, query: tuple[str, str]) -> None:
    """The query, its variables resolved, returns at least one finite value."""
    expr = resolve(query[1])

    def finite() -> list[dict[str, Any]] | None:
        result = prom_query(prom_034.url, expr)
        return result if any(math.isfinite(float(s["value"][1])) for s in result) else None
    wait_for(finite, timeout=90, interval=1, what=f"data for {expr}")


def test_names_are_stored_in_vllms_form(prom_034: Proc) -> None:
    """The escaped names the 0.34 stand-in sends to Prometheus 2.42 are stored as vllm: names only."""
    names = wait_for(lambda: {s["metric"]["__name__"] for s in prom_query(prom_034.url, '{job="vllm"}')}
                     >= {"vllm:num_requests_waiting_by_reason"} and prom_query(prom_034.url, '{job="vllm"}'),
                     timeout=30, what="vLLM series")
    stored = {s["metric"]["__name__"] for s in names}
    assert not [n for n in stored if re.match(r"vllm_", n)]
