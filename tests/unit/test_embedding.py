"""Embeddable panels: the spec's d-solo URL and every URL dashboards/README.md names resolve to their panel."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from helpers.procs import REPO

DASHBOARD_DIR = REPO / "dashboards"
README = DASHBOARD_DIR / "README.md"
SPEC_URL = "/d-solo/dgx-spark/gpu-metrics?orgId=1&panelId=2"  # embedded by the spec's Command Center
# A row of the README's embed table: | dashboard title | panel title | `URL` |
TABLE_ROW = re.compile(r"^\|\s*(?P<dashboard>[^|]+?)\s*\|\s*(?P<panel>[^|]+?)\s*\|\s*`(?P<url>/d-solo/[^`]+)`\s*\|$")


@dataclass(frozen=True)
class Target:
    dashboard: dict[str, Any]
    panel: dict[str, Any]


def grafana_slug(title: str) -> str:
    """Grafana's dashboard slug: lower case, runs of other characters become one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))
    return out


def dashboards_by_uid() -> dict[str, dict[str, Any]]:
    return {d["uid"]: d for d in (json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json")))}


def resolve(url: str) -> Target:
    """What Grafana shows for a d-solo URL: the dashboard by uid and the panel by id (AssertionError if none)."""
    parts = urllib.parse.urlsplit(url)
    m = re.fullmatch(r"/d-solo/(?P<uid>[\w-]+)/(?P<slug>[\w-]+)", parts.path)
    assert m is not None, f"not a d-solo URL: {url}"
    query = urllib.parse.parse_qs(parts.query)
    dashboard = dashboards_by_uid().get(m["uid"])
    assert dashboard is not None, f"{url}: no dashboard with uid {m['uid']}"
    assert m["slug"] == grafana_slug(dashboard["title"]), f"{url}: slug of {dashboard['title']!r} differs"
    assert query.get("orgId") == ["1"], url
    panel_ids = query.get("panelId", [])
    assert len(panel_ids) == 1, url
    panels = [p for p in all_panels(dashboard["panels"]) if str(p["id"]) == panel_ids[0]]
    assert len(panels) == 1, f"{url}: no panel {panel_ids[0]} in {dashboard['uid']}"
    for name in (k.removeprefix("var-") for k in query if k.startswith("var-")):
        assert name in {v["name"] for v in dashboard["templating"]["list"]}, f"{url}: no variable {name}"
    return Target(dashboard, panels[0])


def readme_rows() -> list[dict[str, str]]:
    return [m.groupdict() for line in README.read_text().splitlines() if (m := TABLE_ROW.match(line))]


class TestSpecEmbedUrl:
    def test_resolves_to_cluster_gpu_utilisation(self) -> None:
        """The spec's URL names a time series panel whose one query is the cluster GPU utilisation rule."""
        target = resolve(SPEC_URL)
        assert target.panel["type"] == "timeseries"
        assert [t["expr"] for t in target.panel["targets"]] == ['cluster:gpu_utilization:avg{cluster="$cluster"}']
        assert target.panel["fieldConfig"]["defaults"]["unit"] == "percent"

    def test_is_documented(self) -> None:
        """The README's embed table lists the spec's URL."""
        assert SPEC_URL in [row["url"] for row in readme_rows()]


class TestEmbedTable:
    def test_every_documented_url_resolves_to_the_named_panel(self) -> None:
        """Each row's URL reaches a panel (not a row) with the row's panel title, in the row's dashboard."""
        rows = readme_rows()
        assert len(rows) >= 6, "the embed table in dashboards/README.md is missing"
        for row in rows:
            target = resolve(row["url"])
            assert target.dashboard["title"] == row["dashboard"], row
            assert target.panel["title"] == row["panel"], row
            assert target.panel["type"] != "row", row

    def test_every_embed_dashboard_panel_is_documented(self) -> None:
        """Every panel of the embedding dashboard (uid dgx-spark) has a row, so none is embedded unpinned."""
        documented = {resolve(row["url"]).panel["id"] for row in readme_rows()
                      if urllib.parse.urlsplit(row["url"]).path.startswith("/d-solo/dgx-spark/")}
        panels = {p["id"] for p in all_panels(dashboards_by_uid()["dgx-spark"]["panels"])}
        assert documented == panels

    def test_slug_follows_grafana(self) -> None:
        """The slug rule matches Grafana's for the titles used here."""
        assert grafana_slug("GPU metrics") == "gpu-metrics"
        assert grafana_slug("DGX Spark node") == "dgx-spark-node"

