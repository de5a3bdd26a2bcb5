"""vLLM's official Grafana dashboard (tests/reference/dashboards/vllm-grafana.json): the file and its queries."""

from __future__ import annotations

import json
from typing import Any

from helpers.reference import REFERENCE, reference_file

OFFICIAL_DASHBOARD = "dashboards/vllm-grafana.json"  # in tests/reference/ (SOURCES.md)


def official_dashboard() -> dict[str, Any]:
    """vLLM's official dashboard from tests/reference/, or one clear failure naming the missing file."""
    return dict(json.loads(reference_file(OFFICIAL_DASHBOARD).read_text()))


def official_queries() -> list[tuple[str, str]]:
    if not (REFERENCE / OFFICIAL_DASHBOARD).is_file():  # at collection: one case that fails naming what is missing
        return [("reference-data-missing", "")]
    dashboard = official_dashboard()

    def panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [p for item in items for p in [item, *panels(item.get("panels", []))]]
    return [(f"{p['title']}/{t['refId']}", t["expr"]) for p in panels(dashboard["panels"]) for t in p.get("targets", [])
            if t.get("expr")]
