"""The fleet simulator: many simulated nodes from one process, each served like the daemon serves itself."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers.procs import PYTHON, http_get, parse_metrics, prom_query, tempdir, wait_for
from spark_exporter.exporter import fleet

pytestmark = pytest.mark.integration

NODES = fleet.PROCESS_PER_NODE_MAX + 4  # past the demo's one-process-per-node range


def test_serves_each_node_on_its_own_port_and_stops_on_sigterm() -> None:
    """Every node answers /metrics with its own simulated GPU and the CPU and memory collectors; SIGTERM
    stops the process with status 0."""
    with tempdir("fleet") as d:
        ports_file = d / "ports.json"
        log = open(d / "fleet.log", "wb")  # noqa: SIM115 - closed below
        popen = subprocess.Popen([PYTHON, "-m", "spark_exporter.commands.fleet", f"--nodes={NODES}",
                                  f"--ports-file={ports_file}"], stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        try:
            wait_for(ports_file.exists, 120, 0.3, "the fleet's ports file")
            ports = json.loads(ports_file.read_text())["nodes"]
            assert list(ports) == fleet.node_names(NODES)
            uuids = set()
            for name, port in ports.items():
                fams = parse_metrics(http_get(f"http://127.0.0.1:{port}/metrics", timeout=30)[1].decode())
                ok = {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}
                assert ok == {c: 1.0 for c in fleet.FLEET_COLLECTORS}, name
                (sample,) = fams["DCGM_FI_DEV_GPU_UTIL"].samples
                uuids.add(sample.labels["UUID"])
                assert "node_cpu_seconds" in fams and "node_memory_MemTotal_bytes" in fams
                info = fams["spark_exporter_build_info"].samples[0].labels
                assert info["node"] == name
            assert len(uuids) == NODES  # a seed per node: no two nodes report the same GPU
            popen.send_signal(signal.SIGTERM)
            assert popen.wait(30) == 0
        finally:
            if popen.poll() is None:
                popen.kill()
                popen.wait(10)
            log.close()


def test_bad_node_count_is_exit_2(tmp_path: Path) -> None:
    """More nodes than the simulator serves is one error line and exit 2."""
    done = subprocess.run([PYTHON, "-m", "spark_exporter.commands.fleet", f"--nodes={fleet.MAX_NODES + 1}",
                           f"--ports-file={tmp_path / 'p.json'}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"python -m spark_exporter.commands.fleet: error: --nodes: must be at most "
                                   f"{fleet.MAX_NODES}, got 257")


def test_demo_past_16_nodes_runs_on_the_fleet_simulator() -> None:
    """`demo --nodes 17` serves all 17 nodes from one fleet process: the API counts 17 up; the hour of history
    backfilled for every node is one series with the live one (same profile and seed); SIGTERM cleans up."""
    popen = subprocess.Popen([PYTHON, "-m", "spark_exporter", "demo", "--nodes=17", "--scrape-interval=1s",
                              "--refresh=1s"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    lines: list[str] = []
    # Read all output as it comes: a full pipe would block the demo's redraw, and with it its API.
    reader = threading.Thread(target=lambda: lines.extend(popen.stdout or ()), daemon=True)
    reader.start()
    try:
        def state_line() -> str | None:
            found = [line for line in list(lines) if line.startswith("demo: state ")]
            return found[0].removeprefix("demo: state ").strip() if found else None

        state = json.loads(Path(wait_for(state_line, 180, 0.2, "the demo's state file")).read_text())
        assert [name for name in state["pids"] if name.startswith("exporter-")] == ["exporter-fleet"]

        def overview() -> dict[str, object] | None:
            status, body, _ = http_get(state["api"], timeout=10)
            doc = json.loads(body) if status == 200 else None
            return doc if doc and doc.get("nodesUp") == 17 else None

        ov = wait_for(overview, 120, 1.0, "17 nodes up in the demo's API")
        assert ov["nodesTotal"] == 17
        assert any(line.startswith("demo: backfilled 1 h of GPU history") for line in list(lines)), lines
        prom = state["prometheus"]
        now = time.time()
        # 45 minutes back lies before the demo started: only the backfill can have samples there
        past = prom_query(prom, "count by (node) (count_over_time(DCGM_FI_DEV_GPU_TEMP[10m]))", now - 45 * 60)
        assert {s["metric"]["node"] for s in past} == set(fleet.node_names(17))
        # a backfilled series labelled unlike the live one would be a second series of the node's one GPU
        both = prom_query(prom, "count by (node) (count_over_time(DCGM_FI_DEV_GPU_TEMP[2h]))", now)
        assert {s["metric"]["node"]: float(s["value"][1]) for s in both} == dict.fromkeys(fleet.node_names(17), 1.0)
        # the backfilled temperatures are the node's own simulator's (seed i+1): they differ between nodes
        temps = prom_query(prom, "max_over_time(DCGM_FI_DEV_GPU_TEMP[10m])", now - 45 * 60)
        assert len({s["value"][1] for s in temps}) > 1
        popen.send_signal(signal.SIGTERM)
        assert popen.wait(60) == 0
        assert not Path(state["tempdir"]).exists()
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(10)
