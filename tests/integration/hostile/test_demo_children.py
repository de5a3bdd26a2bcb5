"""The demo watches its children: a dead exporter or inference stand-in is reported and survived, a dead
Prometheus stops the demo with exit 1, and a demo killed with SIGKILL leaves no temporary directory after the
next start."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helpers.procs import PYTHON, require_binary, tempdir, wait_for


class RunningDemo:
    """``spark-exporter demo`` with Prometheus and no Java on PATH (no Spark), its output collected."""

    def __init__(self, bindir: Path, tmp: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
        env.update(PATH=str(bindir), TMPDIR=str(tmp))
        self.popen = subprocess.Popen([PYTHON, "-m", "spark_exporter", "demo", "--refresh=1s",
                                       "--scrape-interval=1s"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True, env=env)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def state(self) -> dict[str, Any] | None:
        for line in list(self.lines):
            if line.startswith("demo: state "):
                return dict(json.loads(Path(line.removeprefix("demo: state ")).read_text()))
        return None

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def kill_all(self, state: dict[str, Any] | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for pid in (state or {}).get("pids", {}).values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.popen.wait(10)


@contextlib.contextmanager
def demo_env() -> Iterator[tuple[Path, Path]]:
    """A PATH holding only prometheus, and a TMPDIR of the test's own."""
    prometheus = require_binary("prometheus")
    with tempdir("demo-env") as d:
        (d / "bin").mkdir()
        (d / "bin" / "prometheus").symlink_to(prometheus)
        (d / "tmp").mkdir()
        yield d / "bin", d / "tmp"


def test_a_dead_exporter_is_reported_and_a_dead_prometheus_stops_the_demo() -> None:
    """A killed exporter or inference stand-in is named with its signal and the demo goes on; a killed
    Prometheus stops it with exit 1 and the reason, every other child stopped and its directory removed."""
    with demo_env() as (bindir, tmp):
        demo = RunningDemo(bindir, tmp)
        state = None
        try:
            state = wait_for(demo.state, timeout=90, what="demo state file")
            for child in ("exporter-spark-02", "sglang-spark-02"):  # an exporter and an inference stand-in
                os.kill(state["pids"][child], signal.SIGKILL)
                wait_for(lambda c=child: demo.said(f"demo: {c} was killed by SIGKILL; last log line: "),
                         timeout=20, what=f"{child}'s death reported")
            time.sleep(2)
            assert demo.popen.poll() is None
            os.kill(state["pids"]["prometheus"], signal.SIGKILL)
            assert demo.popen.wait(60) == 1
            time.sleep(0.2)  # the reader thread drains the pipe
            assert demo.said("error: prometheus was killed by SIGKILL; last log line: ")
            assert not Path(state["tempdir"]).exists()
            assert list(tmp.iterdir()) == []
        finally:
            if demo.popen.poll() is None:
                demo.kill_all(state)


def test_the_directory_of_a_killed_demo_is_removed_at_the_next_start() -> None:
    """After SIGKILL the directory stays (nothing can run); the next demo removes it before anything else."""
    with demo_env() as (bindir, tmp):
        demo = RunningDemo(bindir, tmp)
        state = None
        try:
            state = wait_for(demo.state, timeout=90, what="demo state file")
            demo.popen.send_signal(signal.SIGKILL)
            demo.popen.wait(10)
            left = Path(state["tempdir"])
            assert left.is_dir()
            # Also a directory of a live process must stay: this test's own, named like a demo's.
            live = Path(tempfile.mkdtemp(prefix="spark-exporter-demo-", dir=tmp))
            started = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
            (live / "owner").write_text(f"{os.getpid()} {started}\n")
            # The next start (here without Prometheus on PATH, so it stops right after the clean-up).
            env = {**os.environ, "PATH": str(tmp), "TMPDIR": str(tmp)}
            done = subprocess.run([PYTHON, "-m", "spark_exporter", "demo"], capture_output=True, text=True,
                                  env=env, timeout=60, check=False)
            assert done.returncode == 1 and "no 'prometheus' binary" in done.stderr
            assert f"demo: removed {left}" in done.stdout
            assert not left.exists() and live.is_dir()
        finally:
            demo.kill_all(state)
