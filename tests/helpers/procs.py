"""Real processes for integration tests: the exporter, Prometheus, node_exporter, VictoriaMetrics, vmalert.

Every process gets a free loopback port and a temporary directory, and is killed (with its
process group) when the context exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def require_binary(name: str) -> str:
    """Return the path of a required binary; fail loudly (never skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed; run the README's test command (it installs it)")
    return path


def http_get(url: str, timeout: float = 5.0,
             headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except Exception as e:  # noqa: BLE001
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}" + (f": {last_exc}" if last_exc else ""))


def parse_metrics(text: str) -> dict[str, Metric]:
    return {f.name: f for f in text_string_to_metric_families(text)}


@dataclass
class Proc:
    """A running child process with its port, temp dir and log file."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int
    workdir: Path
    log_path: Path
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode


def start_process(name: str, argv: Sequence[str], port: int, workdir: Path, ready_url: str | None,
                  ready_timeout: float = 30.0, env: dict[str, str] | None = None) -> Proc:
    log_path = workdir / f"{name}.log"
    fh = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    popen = subprocess.Popen(list(argv), stdout=fh, stderr=subprocess.STDOUT, cwd=workdir,
                             start_new_session=True, env={**os.environ, **(env or {})})
    fh.close()
    proc = Proc(name, popen, port, workdir, log_path)
    if ready_url:
        def ok() -> bool:
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}:\n{proc.log()[-3000:]}")
            return http_get(ready_url, timeout=2)[0] == 200
        try:
            wait_for(ok, ready_timeout, what=f"{name} at {ready_url}")
        except BaseException:
            proc.stop()
            raise
    return proc


@contextlib.contextmanager
def tempdir(prefix: str) -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=f"spark-exporter-test-{prefix}-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def exporter(*args: str, ready: bool = True, env: dict[str, str] | None = None) -> Iterator[Proc]:
    """Run ``spark-exporter ARGS`` on a free port; waits for /-/ready unless ready=False."""
    port = free_port()
    with tempdir("exporter") as d:
        argv = [PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{port}", *args]
        proc = start_process("spark-exporter", argv, port, d,
                             f"http://127.0.0.1:{port}/-/ready" if ready else None, env=env)
        try:
            yield proc
        finally:
            proc.stop()


@contextlib.contextmanager
def node_exporter(*args: str, env: dict[str, str] | None = None) -> Iterator[Proc]:
    """Run Debian's ``prometheus-node-exporter ARGS`` on a free port (``env`` added to the environment)."""
    binary = require_binary("prometheus-node-exporter")
    port = free_port()
    with tempdir("node-exporter") as d:
        proc = start_process("node_exporter", [binary, f"--web.listen-address=127.0.0.1:{port}", *args], port, d,
                             f"http://127.0.0.1:{port}/metrics", env=env)
        try:
            yield proc
        finally:
            proc.stop()


@contextlib.contextmanager
def prometheus(config: dict, rule_files: Sequence[Path] = (), extra_args: Sequence[str] = ()) -> Iterator[Proc]:
    """Run Prometheus with ``config`` (a dict); rule files are copied in and listed in the config."""
    binary = require_binary("prometheus")
    port = free_port()
    with tempdir("prometheus") as d:
        cfg = dict(config)
        if rule_files:
            rules_dir = d / "rules"
            rules_dir.mkdir()
            for rf in rule_files:
                shutil.copy(rf, rules_dir / Path(rf).name)
            cfg["rule_files"] = [str(rules_dir / "*.yml")]
        (d / "prometheus.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        argv = [binary, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle", *extra_args]
        proc = start_process("prometheus", argv, port, d, f"http://127.0.0.1:{port}/-/ready", 60)
        try:
            yield proc
        finally:
            proc.stop()


@contextlib.contextmanager
def victoria_metrics(*args: str) -> Iterator[Proc]:
    binary = require_binary("victoria-metrics")
    port = free_port()
    with tempdir("victoria-metrics") as d:
        argv = [binary, f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={d / 'data'}", *args]
        proc = start_process("victoria-metrics", argv, port, d, f"http://127.0.0.1:{port}/health", 60)
        try:
            yield proc
        finally:
            proc.stop()


def prom_query(base_url: str, query: str, time_: float | None = None) -> list[dict]:
    """Instant query; returns the result vector (raises on an API error)."""
    params = {"query": query}
    if time_ is not None:
        params["time"] = str(time_)
    url = f"{base_url}/api/v1/query?{urllib.parse.urlencode(params)}"
    status, body, _ = http_get(url, timeout=10)
    data = json.loads(body)
    if status != 200 or data.get("status") != "success":
        raise RuntimeError(f"query {query!r} failed: {status} {body[:500]!r}")
    return list(data["data"]["result"])

