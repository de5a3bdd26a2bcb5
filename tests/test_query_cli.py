"""``spark-exporter query``: tables, JSON identical in shape to the API, and clear failures."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from cluster import SimulatedCluster
from procs import PYTHON, free_port, wait_for


def query(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "spark_exporter", "query", *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def cluster(gb10_cluster: SimulatedCluster) -> Iterator[SimulatedCluster]:
    c = gb10_cluster  # shared per session (conftest.py): these tests only read from it

    def ready() -> bool:
        out = query(
            f"--prometheus.url={c.prometheus_url}",
            f"--inventory={c.inventory_path}",
            "--format=json",
            "nodes",
        )
        return out.returncode == 0 and all(
            n["utilization"] is not None for n in json.loads(out.stdout)["nodes"]
        )

    wait_for(ready, timeout=60, interval=1.0, what="GPU data for both nodes")
    yield c


def flags(c: SimulatedCluster) -> list[str]:
    return [f"--prometheus.url={c.prometheus_url}", f"--inventory={c.inventory_path}"]


class TestJsonOutput:
    def test_overview_json_has_the_api_fields(self, cluster: SimulatedCluster) -> None:
        """--format json prints the overview object the API serves."""
        out = query(*flags(cluster), "--format=json", "overview")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert (doc["nodesUp"], doc["nodesTotal"]) == (2, 2)
        assert isinstance(doc["gpuUtilization"], float) and doc["activeJobs"] is None

    def test_history_json_is_the_bare_series_list(self, cluster: SimulatedCluster) -> None:
        """History in JSON is the spec's list of {metric, values}."""
        out = query(*flags(cluster), "--format=json", "history", "spark-01", "--duration=1h")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert isinstance(doc, list) and doc[0]["metric"]["node"] == "spark-01" and doc[0]["values"]


class TestTableOutput:
    def test_overview_table_rows(self, cluster: SimulatedCluster) -> None:
        """The overview table has one labelled row per figure; absent Spark data reads n/a, not 0."""
        out = query(*flags(cluster), "overview")
        assert out.returncode == 0, out.stderr
        # label and value are separated by the table's column gap of two or more spaces
        rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in out.stdout.splitlines() if "  " in line)
        assert rows["nodes up"] == "2 / 2"
        assert rows["Spark jobs / tasks"] == "n/a / n/a"
        assert rows["GPU utilisation"].endswith(" %") and float(rows["GPU utilisation"][:-2]) >= 0

    def test_nodes_table_lists_each_node(self, cluster: SimulatedCluster) -> None:
        """The nodes table has a header and one row per node, both up."""
        out = query(*flags(cluster), "nodes")
        lines = out.stdout.splitlines()
        assert lines[0].split()[:2] == ["NODE", "UP"]
        assert [ln.split()[:2] for ln in lines[1:3]] == [["spark-01", "yes"], ["spark-02", "yes"]]


class TestFailures:
    def test_unknown_node_exits_2(self, cluster: SimulatedCluster) -> None:
        """An unknown node is a usage error (exit 2) naming the known nodes."""
        out = query(*flags(cluster), "node", "spark-99")
        assert out.returncode == 2 and "unknown node 'spark-99'" in out.stderr and "spark-01" in out.stderr

    def test_injection_attempt_exits_2(self, cluster: SimulatedCluster) -> None:
        """A hostile node name is refused before any query is built."""
        out = query(*flags(cluster), "node", '"} or vector(1) or up{x="')
        assert out.returncode == 2 and "invalid node name" in out.stderr

    def test_prometheus_down_exits_1(self) -> None:
        """With Prometheus unreachable the command exits 1 with one clear line, no traceback."""
        out = query(f"--prometheus.url=http://127.0.0.1:{free_port()}", "overview")
        assert (
            out.returncode == 1 and "cannot reach Prometheus" in out.stderr and "Traceback" not in out.stderr
        )

    def test_bad_url_exits_2(self) -> None:
        """A Prometheus URL without a scheme is a usage error."""
        out = query("--prometheus.url=localhost:9090", "overview")
        assert out.returncode == 2 and "http://" in out.stderr
