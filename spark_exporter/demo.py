"""``spark-exporter demo``: a two-node simulated DGX Spark cluster, end to end, in one terminal.

It starts two exporters with simulated GB10 GPUs (host metrics are this machine's), a real
Prometheus from PATH with the generated ``prometheus.yml`` and ``rules/``, and the JSON API, then
redraws a cluster overview read through the query module until SIGINT or SIGTERM. On the way out
every child process is stopped and the temporary directory removed.

``demo-state.json`` in the temporary directory (its path is printed first) lists the children's pids.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
import yaml

from .logs import setup_logging
from .prometheus.inventory import Inventory, load_inventory
from .prometheus.promconfig import build_prometheus_config
from .query.api import ApiSettings, build_app, serve_api
from .query.cli import render_nodes, render_overview
from .query.client import PrometheusClient, PrometheusError
from .query.rollups import Rollups
from .settings import ConfigError, parse_duration

PROG = "spark-exporter demo"
RULES_DIR = Path(__file__).resolve().parent.parent / "rules"
CLEAR = "\x1b[H\x1b[2J"  # ANSI: cursor home, clear screen


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Run a simulated two-node DGX Spark cluster with "
        "Prometheus and the JSON API, and show a live overview. Ctrl-C stops it all.",
    )
    p.add_argument("--nodes", type=int, default=2, help="simulated nodes (default %(default)s)")
    p.add_argument("--profile", default="gb10", help="GPU simulator profile (default %(default)s)")
    p.add_argument("--scrape-interval", default="2s", help="Prometheus scrape and rule interval (default 2s)")
    p.add_argument("--refresh", default="2s", help="overview redraw interval (default 2s)")
    p.add_argument("--duration", default="0s", help="stop by itself after this long; 0 runs until Ctrl-C")
    p.add_argument("--api-port", type=int, default=0, help="JSON API port on 127.0.0.1 (default: a free one)")
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it if the demo dies without cleaning up (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Demo:
    workdir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], port: int) -> Child:
        log: IO[bytes]
        with open(self.workdir / f"{name}.log", "wb") as log:
            # Own session: the terminal's Ctrl-C reaches only the demo, which stops children in order.
            popen = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )  # noqa: PLW1509
        child = Child(name, popen, port)
        self.children.append(child)
        return child

    def log_tail(self, child: Child) -> str:
        with contextlib.suppress(OSError):
            return (self.workdir / f"{child.name}.log").read_text(errors="replace")[-2000:]
        return ""

    def stop_all(self) -> None:
        for c in self.children:
            if c.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.popen.pid, signal.SIGTERM)
        for c in self.children:
            try:
                c.popen.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(c.popen.pid, signal.SIGKILL)
                c.popen.wait(5)

    def write_state(self, extra: dict[str, object]) -> Path:
        path = self.workdir / "demo-state.json"
        state = {"tempdir": str(self.workdir), "pids": {c.name: c.popen.pid for c in self.children}, **extra}
        path.write_text(json.dumps(state, indent=2))
        return path


async def wait_ready(demo: Demo, child: Child, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if child.popen.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with {child.popen.returncode}:\n{demo.log_tail(child)}"
                )
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.get(child.url + path) as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(
        f"{child.name} not ready at {child.url}{path} after {timeout:g}s:\n{demo.log_tail(child)}"
    )


async def start_cluster(demo: Demo, ns: argparse.Namespace) -> tuple[Inventory, Child]:
    exporters = []
    for i in range(ns.nodes):
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "spark_exporter",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--gpu.simulate={ns.profile}",
            f"--gpu.seed={i + 1}",
        ]
        exporters.append(demo.spawn(f"exporter-spark-{i + 1:02d}", argv, port))
    await asyncio.gather(*(wait_ready(demo, c, "/-/ready") for c in exporters))
    inv_path = demo.workdir / "inventory.yml"
    nodes = [
        {"name": f"spark-{i + 1:02d}", "exporter": f"127.0.0.1:{c.port}"} for i, c in enumerate(exporters)
    ]
    inv_path.write_text(yaml.safe_dump({"cluster": "demo", "nodes": nodes}, sort_keys=False))
    inventory = load_inventory(str(inv_path))
    rules = demo.workdir / "rules"
    rules.mkdir()
    for f in sorted(RULES_DIR.glob("*.yml")):
        shutil.copy(f, rules / f.name)
    config = build_prometheus_config(
        inventory,
        [str(rules / "*.yml")],
        scrape_interval=ns.scrape_interval,
        evaluation_interval=ns.scrape_interval,
    )
    (demo.workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    prom = demo.spawn(
        "prometheus",
        [
            ns.prometheus,
            f"--config.file={demo.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={demo.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        port,
    )
    await wait_ready(demo, prom, "/-/ready")
    return inventory, prom


async def show(rollups: Rollups, header: str, tty: bool) -> None:
    try:
        ov, nodes = await asyncio.gather(rollups.cluster_overview(), rollups.nodes())
        body = render_overview(ov.to_json()) + "\n\n" + render_nodes(nodes.to_json())
    except PrometheusError as e:
        body = f"Prometheus: {e}"
    stamp = time.strftime("%H:%M:%S")
    text = f"{header}\n\n[{stamp}] cluster overview (Ctrl-C stops the demo)\n\n{body}\n"
    sys.stdout.write((CLEAR if tty else "-" * 72 + "\n") + text)
    sys.stdout.flush()


async def run(ns: argparse.Namespace, demo: Demo) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"demo: temp dir {demo.workdir}", flush=True)
    # A signal during start-up stops the demo there, without waiting for the cluster to be ready.
    starting = asyncio.ensure_future(start_cluster(demo, ns))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return
    stopping.cancel()
    inventory, prom = starting.result()
    api_port = ns.api_port or free_port()
    settings = ApiSettings(rate_limit=0, cache_ttl=ns.refresh_s)
    api_rollups = Rollups(PrometheusClient(prom.url), inventory, scrape_interval=ns.scrape_s)
    api_task = asyncio.create_task(
        serve_api(build_app(api_rollups, settings), "127.0.0.1", api_port, settings, stop)
    )
    api_url = f"http://127.0.0.1:{api_port}/api/v1/cluster/overview"
    state = demo.write_state({"prometheus": prom.url, "api": api_url})
    print(f"demo: state {state}", flush=True)
    header = (
        f"Prometheus {prom.url}   API {api_url}\n"
        f"nodes: {', '.join(f'{n.name} ({n.exporter})' for n in inventory.nodes)}"
    )
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + ns.duration_s if ns.duration_s > 0 else None
    async with PrometheusClient(prom.url) as client:
        rollups = Rollups(client, inventory, scrape_interval=ns.scrape_s)
        while not stop.is_set():
            await show(rollups, header, tty)
            if deadline is not None and time.monotonic() >= deadline:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), ns.refresh_s)
    stop.set()
    await api_task


def main(argv: Sequence[str]) -> int:
    ns = _parser().parse_args(list(argv))
    setup_logging("error", "logfmt")  # warnings would scroll the live screen
    try:
        ns.scrape_s = parse_duration(ns.scrape_interval)
        ns.refresh_s = parse_duration(ns.refresh)
        ns.duration_s = parse_duration(ns.duration)
    except ValueError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if ns.nodes < 1 or ns.refresh_s <= 0 or ns.scrape_s <= 0:
        print(f"{PROG}: error: --nodes, --refresh and --scrape-interval must be positive", file=sys.stderr)
        return 2
    ns.prometheus = shutil.which("prometheus")
    if ns.prometheus is None:
        print(
            f"{PROG}: error: no 'prometheus' binary on PATH ('./dev.sh demo' installs it)",
            file=sys.stderr,
        )
        return 1
    if not any(RULES_DIR.glob("*.yml")):
        print(
            f"{PROG}: error: no rule files in {RULES_DIR} (run from a clone)",
            file=sys.stderr,
        )
        return 1
    demo = Demo(Path(tempfile.mkdtemp(prefix="spark-exporter-demo-")))
    code = 0
    try:
        asyncio.run(run(ns, demo))
    except (RuntimeError, ConfigError, OSError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:  # a second Ctrl-C during start-up or shutdown
        pass
    finally:
        demo.stop_all()
        shutil.rmtree(demo.workdir, ignore_errors=True)
        print(f"demo: stopped {len(demo.children)} processes, removed {demo.workdir}", flush=True)
    return code
