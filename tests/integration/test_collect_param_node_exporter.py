"""collect[] on /metrics, side by side with Debian's node_exporter 1.5.0 given the same flags: the same
requests select the same collectors, and the same requests are refused (400; ours with the JSON error body).
exclude[] is not compared here: node_exporter added it after 1.5.0 (see test_node_exporter_flags.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helpers.procs import Proc, exporter, http_get, node_exporter, parse_metrics

pytestmark = pytest.mark.integration

FLAGS = ("--collector.disable-defaults", "--collector.loadavg", "--collector.uname", "--collector.cpu",
         "--web.disable-exporter-metrics")
ENABLED = {"loadavg", "uname", "cpu"}


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[Proc, Proc]]:
    with exporter(*FLAGS) as ours, node_exporter(*FLAGS) as theirs:
        yield ours, theirs


def scrape(proc: Proc, query: str) -> tuple[int, bytes]:
    status, body, _ = http_get(f"{proc.url}/metrics?{query}" if query else f"{proc.url}/metrics")
    return status, body


def collectors(body: bytes) -> set[str]:
    """The collectors a scrape ran, from node_scrape_collector_success."""
    fam = parse_metrics(body.decode())["node_scrape_collector_success"]
    return {s.labels["collector"] for s in fam.samples}


class TestCollectLikeNodeExporter:
    @pytest.mark.parametrize(("query", "want"), [
        ("", ENABLED),
        ("collect[]=loadavg", {"loadavg"}),
        ("collect[]=loadavg&collect[]=uname&collect[]=loadavg", {"loadavg", "uname"}),
        ("collect%5B%5D=uname", {"uname"}),
        ("collect=loadavg", ENABLED),  # not the parameter: ignored by both
    ])
    def test_same_selection(self, pair: tuple[Proc, Proc], query: str, want: set[str]) -> None:
        """A request node_exporter answers with a subset of its collectors gets the same subset from ours."""
        ours, theirs = pair
        (s1, b1), (s2, b2) = scrape(ours, query), scrape(theirs, query)
        assert (s1, s2) == (200, 200)
        assert collectors(b1) == collectors(b2) == want

    @pytest.mark.parametrize("query", [
        "collect[]=meminfo",  # a collector both have, not enabled here
        "collect[]=nope",
        "collect[]=",
        "collect[]=loadavg,uname",  # one name per parameter, not a list
        "collect[]=LOADAVG",
    ])
    def test_same_refusal(self, pair: tuple[Proc, Proc], query: str) -> None:
        """A request node_exporter refuses with 400 is a 400 here too, with a JSON body naming the problem."""
        ours, theirs = pair
        (s1, b1), (s2, _) = scrape(ours, query), scrape(theirs, query)
        assert (s1, s2) == (400, 400)
        error = json.loads(b1)["error"]
        assert "collector" in error and query.split("=", 1)[1] in error

    def test_exporter_metrics_stay_out_of_a_selection(self, pair: tuple[Proc, Proc]) -> None:
        """Under --web.disable-exporter-metrics neither serves process_* in a collect[] scrape; both serve the
        selected collector's families."""
        for proc in pair:
            status, body = scrape(proc, "collect[]=loadavg")
            names = set(parse_metrics(body.decode()))
            assert status == 200 and "node_load1" in names
            assert not {n for n in names if n.startswith(("process_", "go_"))}, proc.name
