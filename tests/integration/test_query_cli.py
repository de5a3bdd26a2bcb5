"""``spark-exporter query``: tables, JSON identical in shape to the API, and clear failures."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from helpers.cluster import SimulatedCluster
from helpers.procs import PYTHON, free_port, wait_for
from spark_exporter.query import render


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


    def test_memory_is_in_gib_in_both_tables(self, cluster: SimulatedCluster) -> None:
        """The overview's GPU memory and the nodes table's GPU MEM column use one unit, GiB."""
        overview = query(*flags(cluster), "overview")
        rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in overview.stdout.splitlines() if "  " in line)
        used, total = rows["GPU memory used"].split(" of ")
        assert used.endswith(" GiB") and total.endswith(" GiB")
        nodes = query(*flags(cluster), "nodes").stdout.splitlines()
        header = re.split(r"\s{2,}", nodes[0])
        column = header.index("GPU MEM")
        cells = [re.split(r"\s{2,}", line)[column] for line in nodes[1:3]]
        assert all(c.endswith(" GiB") and float(c.removesuffix(" GiB")) >= 0 for c in cells), cells


def overview_json(**fields: object) -> dict[str, object]:
    """An overview document as the API serves it, every figure missing unless given."""
    doc: dict[str, object] = {k: None for k in (
        "cluster", "nodesUp", "nodesTotal", "gpuUtilization", "memoryUsedGB", "memoryTotalGB", "powerDrawW",
        "maxGpuTemperatureC", "activeJobs", "activeTasks", "vllmRequestsRunning", "vllmRequestsWaiting",
        "vllmGenerationTokensPerSec", "firingAlerts")}
    doc.update(downTargets=[], staleTargets=[], missing={}, warnings=[], partial=False)
    doc.update(fields)
    return doc


def node_json(node: str, memory_used_mb: float | None) -> dict[str, object]:
    return {"node": node, "up": True, "stale": False, "gpuCount": 1, "utilization": 50.0, "temperature": 60.0,
            "powerDraw": 30.0, "memoryUsedMB": memory_used_mb, "cpuUtilization": 0.25}


class TestRenderedUnits:
    """The renderers show memory in one unit, GiB, whether the API field is in GB (GiB) or MB (MiB)."""

    def test_nodes_table_converts_mib_to_gib(self) -> None:
        """memoryUsedMB 12288 (MiB) is shown as 12.0 GiB; a missing figure is n/a, not 0."""
        table = render.render_nodes({"nodes": [node_json("spark-01", 12288.0), node_json("spark-02", None)]})
        header, *rows = (re.split(r"\s{2,}", line) for line in table.splitlines())
        column = header.index("GPU MEM")
        assert [r[column] for r in rows] == ["12.0 GiB", "n/a"]

    def test_overview_and_nodes_agree(self) -> None:
        """The overview's used memory and the sum of the node rows read the same in the same unit."""
        overview = render.render_overview(overview_json(memoryUsedGB=24.5, memoryTotalGB=238.0))
        rows = dict(re.split(r"\s{2,}", line, maxsplit=1) for line in overview.splitlines() if "  " in line)
        assert rows["GPU memory used"] == "24.5 GiB of 238.0 GiB"
        table = render.render_nodes({"nodes": [node_json("spark-01", 12288.0), node_json("spark-02", 12800.0)]})
        header, *cells = (re.split(r"\s{2,}", line) for line in table.splitlines())
        column = header.index("GPU MEM")
        assert sum(float(r[column].removesuffix(" GiB")) for r in cells) == 24.5

    def test_node_detail_uses_gib(self) -> None:
        """The one-node view gives used and free memory, and each GPU's, in GiB."""
        gpu = {"gpu": "0", "modelName": "NVIDIA GB10", "utilization": 1.0, "temperature": 40.0, "powerDraw": 5.0,
               "memoryUsedMB": 2048.0, "smClockMHz": 2418.0}
        text = render.render_node({"node": "spark-01", "up": True, "stale": False, "utilization": 1.0,
                                   "temperature": 40.0, "powerDraw": 5.0, "memoryUsedMB": 2048.0,
                                   "memoryFreeMB": 100352.0, "memorySource": "unified", "gpus": [gpu]})
        head, header, row = text.splitlines()
        assert "mem used=2.0 GiB free=98.0 GiB" in head
        assert re.split(r"\s{2,}", row)[re.split(r"\s{2,}", header).index("MEM USED")] == "2.0 GiB"


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


class TestHostileLabelValues:
    OVERVIEW = {
        "cluster": "c", "nodesUp": 1, "nodesTotal": 2, "gpuUtilization": None, "memoryUsedGB": None,
        "memoryTotalGB": None, "powerDrawW": None, "maxGpuTemperatureC": None, "activeJobs": None,
        "activeTasks": None, "vllmRequestsRunning": None, "vllmRequestsWaiting": None,
        "vllmGenerationTokensPerSec": None, "firingAlerts": 0, "staleTargets": [],
        "downTargets": [{"node": None, "job": "j\x1b]0;pwned\x07\x1b[31mRED\r\nFAKE LINE", "instance": "i"}],
        "missing": {"gpuUtilization": "no series\x1b[2J"}, "warnings": [], "partial": False,
    }

    def test_control_characters_from_prometheus_are_escaped_in_tables(self) -> None:
        """A label value carrying terminal escape codes and CR/LF prints escaped, on its own single line."""
        text = render.render_overview(self.OVERVIEW)
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
        down = [line for line in text.splitlines() if line.startswith("DOWN")]
        assert down == ["DOWN   ? j\\x1b]0;pwned\\x07\\x1b[31mRED\\r\\nFAKE LINE i"]
        assert not any(line.startswith("FAKE LINE") for line in text.splitlines())

    def test_printable_text_is_unchanged(self) -> None:
        """Ordinary names, including non-ASCII letters, pass through as they are."""
        assert render.clean("spark-01 Größe 名前") == "spark-01 Größe 名前"
