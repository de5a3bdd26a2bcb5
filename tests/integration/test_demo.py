"""``spark-exporter demo``: the whole chain comes up, shows both nodes and the workloads (a stand-in for each
inference engine, vLLM, llama.cpp and SGLang, and a real local Spark application where PySpark and Java 17+ are
present), and leaves nothing behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import psutil
import pytest

from helpers.procs import PYTHON, http_get, wait_for
from spark_exporter.workloads.spark_app import unavailable_reason

BASE_CHILDREN = {"exporter-spark-01", "exporter-spark-02", "vllm-spark-01", "llamacpp-spark-01", "sglang-spark-02",
                 "prometheus"}
# (engine, node) of every row the demo's inference rollup must have: each engine the product supports.
ENGINE_ROWS = {("vllm", "spark-01"), ("llamacpp", "spark-01"), ("sglang", "spark-02")}
# IPv4 loopback as a process shows it: a JVM's dual-stack socket bound to 127.0.0.1 reads as ::ffff:127.0.0.1.
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def group_alive(pgid: int) -> bool:
    """True while a process of group ``pgid`` exists and is not a zombie."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def listening_sockets(pid: int) -> list[tuple[str, str, int]]:
    """(process name, address, port) of every listening TCP socket and bound UDP socket of ``pid`` and its
    descendants (Spark's JVM included), from psutil's per-process net_connections."""
    root = psutil.Process(pid)
    found = []
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            for conn in proc.net_connections(kind="inet"):
                listening = conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and conn.laddr)
                if listening and not conn.raddr:
                    found.append((proc.name(), conn.laddr.ip, conn.laddr.port))
    return found


class Demo:
    """The demo as a child process, its stdout collected line by line."""

    def __init__(self, *args: str) -> None:
        self.popen = subprocess.Popen(
            [PYTHON, "-m", "spark_exporter", "demo", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines)

    def state(self) -> dict[str, Any] | None:
        for line in self.lines:
            if line.startswith("demo: state "):
                return dict(json.loads(Path(line.removeprefix("demo: state ")).read_text()))
        return None

    def nodes_with_data(self) -> set[str]:
        """Nodes whose row in the latest nodes table shows a GPU utilisation figure."""
        latest: dict[str, bool] = {}
        for line in self.lines:
            m = re.match(r"^(spark-\d\d)\s+(\S+)\s+(\S+)\s+(\S+)", line)
            if m:
                latest[m.group(1)] = m.group(2) == "yes" and m.group(4) != "n/a"
        return {n for n, ok in latest.items() if ok}

    def workload_rows(self) -> dict[str, str]:
        """The latest 'Spark jobs / tasks' and 'vLLM tokens/s' rows of the live overview, by row title."""
        latest: dict[str, str] = {}
        for line in self.lines:
            m = re.match(r"^(Spark jobs / tasks|vLLM tokens/s)\s{2,}(.+)$", line)
            if m:
                latest[m.group(1)] = m.group(2)
        return latest

    def spark_started(self) -> bool:
        """What the demo said about Spark: started (True) or not, with how to enable it (False)."""
        (line,) = [line for line in self.lines if line.startswith("demo: Spark: ")]
        return not line.startswith("demo: Spark: not started")

    def kill_leftovers(self, state: dict[str, Any] | None) -> None:
        """Test clean-up if an assertion failed: stop the demo and the children it listed, by pid."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for pid in (state or {}).get("pids", {}).values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.popen.wait(10)


def engines_generating(overview_url: str) -> dict[str, Any] | None:
    """The demo API's /api/v1/inference answer once it has a row for each of ENGINE_ROWS with tokens/s above 0."""
    answer = json.loads(http_get(overview_url.replace("/cluster/overview", "/inference"))[1])
    rates = {(m["engine"], m["node"]): m["generationTokensPerSec"] for m in answer["models"]}
    return answer if ENGINE_ROWS <= rates.keys() and all((rates[k] or 0) > 0 for k in ENGINE_ROWS) else None


class TestDemo:
    @pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
    def test_runs_and_cleans_up_on_signal(self, sig: int) -> None:
        """The demo shows both nodes and serves the API; the signal stops all children and removes its dir."""
        demo = Demo("--refresh=1s", "--scrape-interval=1s")
        state: dict[str, Any] | None = None
        try:
            state = wait_for(demo.state, timeout=90, what=f"demo state file; output:\n{demo.output()}")
            assert set(state["pids"]) == BASE_CHILDREN | ({"spark-app"} if demo.spark_started() else set())
            assert all(alive(pid) for pid in state["pids"].values())
            wait_for(
                lambda: demo.nodes_with_data() == {"spark-01", "spark-02"},
                timeout=90,
                what=f"both nodes in the overview; output tail:\n{demo.output()[-3000:]}",
            )
            status, body, _ = http_get(state["api"])
            assert status == 200 and json.loads(body)["nodesUp"] == 2
            demo.popen.send_signal(sig)
            assert demo.popen.wait(60) == 0
            wait_for(
                lambda: not any(alive(pid) for pid in state["pids"].values()),
                timeout=10,
                what="children gone",
            )
            assert not Path(state["tempdir"]).exists()
            assert any(line.startswith(f"demo: stopped {len(state['pids'])} processes") for line in demo.lines)
        finally:
            if demo.popen.poll() is None or (state and any(alive(p) for p in state["pids"].values())):
                demo.kill_leftovers(state)

    def test_overview_shows_workloads(self) -> None:
        """With Java 17+ and PySpark here the demo runs Spark, and its overview has activeJobs and the vLLM
        fields as numbers; the live table shows them. /api/v1/inference has exactly one row per engine (vLLM and
        llama.cpp on spark-01, SGLang on spark-02), each generating tokens. Every port the demo's processes
        listen on, Spark's UI and the three stand-ins included, is on 127.0.0.1."""
        assert unavailable_reason() is None, "this test needs a Java 17+ runtime and PySpark (./dev.sh setup)"
        demo = Demo("--refresh=1s", "--scrape-interval=1s")
        state: dict[str, Any] | None = None
        try:
            state = wait_for(demo.state, timeout=90, what=f"demo state file; output:\n{demo.output()}")
            assert demo.spark_started() and "spark-app" in state["pids"]

            def workloads() -> dict[str, Any] | None:
                ov = json.loads(http_get(state["api"])[1])
                fields = ("activeJobs", "vllmGenerationTokensPerSec", "vllmRequestsRunning", "vllmRequestsWaiting")
                return ov if all(ov[f] is not None for f in fields) else None

            ov = wait_for(workloads, timeout=90, interval=1.0,
                          what=f"Spark and vLLM figures in the overview; output tail:\n{demo.output()[-3000:]}")
            assert isinstance(ov["activeJobs"], int) and ov["activeJobs"] >= 0
            assert ov["vllmGenerationTokensPerSec"] > 0
            assert not {"activeJobs", "vllmGenerationTokensPerSec"} & set(ov["missing"])
            wait_for(lambda: (rows := demo.workload_rows()).keys() == {"Spark jobs / tasks", "vLLM tokens/s"}
                     and not any("n/a" in v for v in rows.values()),
                     timeout=30, what=f"Spark jobs and vLLM tokens/s in the live table:\n{demo.output()[-2000:]}")
            inference = wait_for(lambda: engines_generating(state["api"]), timeout=90, interval=1.0,
                                 what=f"a row per engine with tokens/s in /api/v1/inference:\n{demo.output()[-2000:]}")
            assert {(m["engine"], m["node"]) for m in inference["models"]} == ENGINE_ROWS
            assert inference["totals"]["generationTokensPerSec"] > 0
            # Spark's UI is up (Prometheus scraped activeJobs from it), so its JVM listens by now.
            assert [s for s in listening_sockets(state["pids"]["spark-app"]) if s[0] == "java"]
            # Each stand-in listens (so the loopback check below covers it).
            for child in ("vllm-spark-01", "llamacpp-spark-01", "sglang-spark-02"):
                assert listening_sockets(state["pids"][child]), f"{child} listens on nothing"
            assert [s for s in listening_sockets(demo.popen.pid) if s[1] not in LOOPBACK] == []
            demo.popen.send_signal(signal.SIGTERM)
            assert demo.popen.wait(60) == 0
            assert not Path(state["tempdir"]).exists()
            # Spark's JVM runs in the application's process group: nothing of that group is left.
            wait_for(lambda: not group_alive(state["pids"]["spark-app"]), timeout=10, what="Spark's JVM gone")
        finally:
            if demo.popen.poll() is None or (state and any(alive(p) for p in state["pids"].values())):
                demo.kill_leftovers(state)

    def test_bad_flag_value_is_a_usage_error(self) -> None:
        """An invalid refresh interval exits 2 before anything starts."""
        out = subprocess.run(
            [PYTHON, "-m", "spark_exporter", "demo", "--refresh=soon"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 2 and "invalid duration" in out.stderr
