"""``spark-exporter demo``: a simulated DGX Spark cluster (two nodes unless ``--nodes``), end to end, in one terminal.

It starts one exporter per node with simulated GB10 GPUs (host metrics are this machine's; past 16 nodes,
up to 256, one fleet simulator process, :mod:`spark_exporter.exporter.fleet`, serves them all), one stand-in
per inference engine spark-exporter supports, each with its own simulated traffic (:data:`ENGINES`): a vLLM 0.12
server (:mod:`spark_exporter.workloads.vllm_sim`) and a llama.cpp server
(:mod:`spark_exporter.workloads.llamacpp_sim`) on the first node, an SGLang server
(:mod:`spark_exporter.workloads.sglang_sim`) on the second (the first with ``--nodes=1``), started while the
exporters come up; a small real local Spark application with a slow job in a loop on the first node when
PySpark and a Java 17+ runtime are present (:mod:`spark_exporter.workloads.spark_app`; otherwise one line
says how to enable it), a real Prometheus from PATH
with the generated ``prometheus.yml`` and ``rules/``, and the JSON API, then redraws a cluster overview
read through the query module until SIGINT, SIGTERM or SIGHUP. On the way out every child process is
stopped and the temporary directory removed.

The demo watches its children: when one exits it says which, with its exit code (or signal) and the
last line of its log. Without Prometheus or the API there is nothing left to show, so the demo then
stops and exits 1; a simulated node's exporter (or a workload) that dies is reported and the demo
keeps running (the page shows that node down and its alert firing). Should the demo itself be
killed with SIGKILL, its children get SIGTERM from the kernel (PR_SET_PDEATHSIG) and its temporary
directory is removed at the next start: each directory holds an ``owner`` file with the demo's pid
and start time, and a directory whose owner is gone is stale.

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
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import yaml

from ..collectors._files import read_tail, read_text
from ..exporter import fleet
from ..logs import setup_logging
from ..prometheus import kit
from ..prometheus.backfill import BackfillError, SimulatedNode, backfill
from ..prometheus.inventory import Inventory, load_inventory
from ..prometheus.promconfig import build_prometheus_config
from ..query.api import ApiSettings, build_app, serve_api
from ..query.client import PrometheusClient, PrometheusError
from ..query.render import render_nodes, render_overview
from ..query.rollups import Rollups
from ..settings import Schema, Settings, demo_schema, format_duration
from ..settings.parser import Parser
from ..workloads import spark_app
from .runner import PROG, Command, fail, run

VLLM_MODEL = "meta-llama/Llama-3.1-8B-Instruct"  # the simulated vLLM's model_name
VLLM_VERSION = "0.12"
SGLANG_MODEL = "Qwen/Qwen2.5-7B-Instruct"  # the simulated SGLang's model_name
SPARK_APP_NAME = "spark-exporter-demo"

NAME = "demo"
CLEAR = "\x1b[H\x1b[2J"  # ANSI: cursor home, clear screen
DIR_PREFIX = "spark-exporter-demo-"
OWNER_FILE = "owner"  # "<pid> <start time in clock ticks>" of the demo that made the directory
ESSENTIAL = ("prometheus",)  # children without which the demo stops (the API runs in the demo itself)
WATCH_INTERVAL = 0.5  # s between two looks at the children


def build_parser() -> Parser:
    """The ``demo`` parser: every setting of :func:`demo_schema`."""
    p = Parser(
        prog=f"{PROG} {NAME}",
        description="Run a simulated two-node DGX Spark cluster (GB10 exporters; vLLM and llama.cpp "
        "stand-ins on the first node, SGLang on the second; a local Spark application when PySpark and "
        "Java 17+ are present) with Prometheus and the JSON API on 127.0.0.1, and show a live overview. "
        "Ctrl-C stops it all.",
    )
    demo_schema().add_arguments(p)
    return p


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free when asked (the OS picks it; it may be taken again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it if the demo dies without cleaning up (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


@dataclass
class Child:
    """A process the demo started: its name, Popen and loopback port."""

    name: str
    popen: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Demo:
    """The demo's temporary directory and the child processes it started, in start order."""

    workdir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], port: int, env: dict[str, str] | None = None) -> Child:
        """Start ``argv`` in its own session, output to ``<workdir>/<name>.log``; return the Child.

        Raises OSError when the program cannot be started.
        """
        log: IO[bytes]
        with open(self.workdir / f"{name}.log", "wb") as log:
            # Own session: the terminal's Ctrl-C reaches only the demo, which stops children in order.
            popen = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )  # noqa: PLW1509
        child = Child(name, popen, port)
        self.children.append(child)
        return child

    def log_tail(self, child: Child) -> str:
        """The last 2000 bytes of the child's log (as text), or ``""`` if it cannot be read."""
        with contextlib.suppress(OSError):
            return read_tail(str(self.workdir / f"{child.name}.log"), 2000).decode("utf-8", errors="replace")
        return ""

    def last_line(self, child: Child) -> str:
        """The last non-blank line of the child's log (at most 300 characters), or "(empty log)"."""
        lines = [line for line in self.log_tail(child).splitlines() if line.strip()]
        return lines[-1].strip()[:300] if lines else "(empty log)"

    def exited(self, reported: set[str]) -> list[tuple[Child, str]]:
        """Children that have exited and are not in ``reported`` yet, each with a one-line account of why
        (exit code or signal, last log line); their names are added to ``reported``."""
        out = []
        for c in self.children:
            code = c.popen.poll()
            if code is None or c.name in reported:
                continue
            reported.add(c.name)
            how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with code {code}"
            out.append((c, f"{c.name} {how}; last log line: {self.last_line(c)}"))
        return out

    def stop_all(self) -> None:
        """SIGTERM each child's process group, then SIGKILL any that has not exited within 10 s."""
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
        """Write ``<workdir>/demo-state.json`` (temp dir, pids by name, ``extra``) and return its path."""
        path = self.workdir / "demo-state.json"
        state = {"tempdir": str(self.workdir), "pids": {c.name: c.popen.pid for c in self.children}, **extra}
        path.write_text(json.dumps(state, indent=2))
        return path


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` (clock ticks since boot, from /proc), or None if it is gone."""
    try:
        stat = read_tail(f"/proc/{pid}/stat", 4096).decode("ascii", errors="replace")
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def make_workdir(base: str | None = None) -> Path:
    """A new temporary directory for this demo, with its ``owner`` file."""
    d = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base))
    (d / OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    return d


def remove_stale_dirs(base: str) -> list[Path]:
    """Remove this user's demo directories under ``base`` whose owning demo is gone (killed by SIGKILL);
    return them. A directory without a readable owner file, or another user's, is left alone."""
    removed = []
    for entry in sorted(Path(base).glob(DIR_PREFIX + "*")):
        try:
            st = entry.lstat()
            if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
                continue
            pid_text, started = read_tail(str(entry / OWNER_FILE), 100).decode("ascii").split()
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if pid == os.getpid() or _start_time(pid) == started:
            continue  # its demo is still running
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


async def watch(demo: Demo, stop: asyncio.Event, api_task: asyncio.Task[None], say: Any = print) -> str | None:
    """Until ``stop`` is set: report each child that exits; return why the demo must stop (Prometheus or
    the API gone), having set ``stop``, or None when ``stop`` was set by a signal or the duration."""
    reported: set[str] = set()
    while not stop.is_set():
        for child, why in demo.exited(reported):
            if child.name in ESSENTIAL:
                stop.set()
                return f"{why}; stopping the demo"
            say(f"demo: {why}; the demo goes on without it", flush=True)
        if api_task.done():
            stop.set()
            error = None if api_task.cancelled() else api_task.exception()
            return f"the API stopped ({type(error).__name__}: {error})" if error else "the API stopped"
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCH_INTERVAL)
    return None


async def wait_ready(demo: Demo, child: Child, path: str, timeout: float = 60.0) -> None:
    """Poll ``child.url + path`` until it answers 200.

    Raises RuntimeError (with the log tail) when the child exits or ``timeout`` seconds pass.
    """
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


def start_spark(demo: Demo) -> Child:
    """The local Spark application (not waited for: Prometheus scrapes it once its JVM is up).

    Spark's scratch space and the JVM's temp files go under the demo's directory, removed at the end.
    """
    port = free_port()
    scratch = demo.workdir / "spark-tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "SPARK_LOCAL_DIRS": str(scratch),
           "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    argv = [sys.executable, "-m", "spark_exporter.workloads.spark_app", f"--ui-port={port}",
            f"--app-name={SPARK_APP_NAME}"]
    return demo.spawn("spark-app", argv, port, env)


BACKFILL_SPAN = 3600.0  # s of history written before Prometheus starts
MAX_SCRAPE_BYTES = 8 * 1024 * 1024  # of the one scrape per exporter that gives the series' labels


async def backfill_history(demo: Demo, ns: argparse.Namespace, inventory: Inventory,
                           exporters: list[tuple[str, str]]) -> None:
    """An hour of the simulators' history in Prometheus' data directory, so the page's charts open full.

    ``exporters`` are the (node, host:port) pairs of start_exporters or start_fleet: both run node ``i`` of
    fleet.node_names on the ``--profile`` simulator seeded ``i + 1``, which is what is replayed here. One scrape
    per exporter gives the series' labels; ``promtool`` writes the blocks. Any failure is one line on stdout
    and the demo goes on with an empty history.
    """
    promtool = shutil.which("promtool")
    if promtool is None:
        print("demo: no history backfilled (no 'promtool' on PATH)", flush=True)
        return
    seeds = {name: i + 1 for i, name in enumerate(fleet.node_names(ns.nodes))}
    nodes = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:  # per request
            for name, address in exporters:
                async with session.get(f"http://{address}/metrics") as resp:
                    body = await resp.content.read(MAX_SCRAPE_BYTES)
                target = {"job": "spark-exporter", "instance": address, "cluster": inventory.cluster, "node": name}
                nodes.append(SimulatedNode(ns.profile, seeds[name], target, body.decode("utf-8", "replace")))
        samples = await asyncio.to_thread(backfill, promtool, nodes, demo.workdir, demo.workdir / "data",
                                          time.time(), BACKFILL_SPAN)
    except (aiohttp.ClientError, TimeoutError, BackfillError, OSError, ValueError, KeyError) as e:
        print(f"demo: no history backfilled: {e}", flush=True)
        return
    print(f"demo: backfilled {BACKFILL_SPAN / 3600:g} h of GPU history ({samples} samples)", flush=True)


async def start_exporters(demo: Demo, ns: argparse.Namespace) -> list[tuple[str, str]]:
    """One spark-exporter daemon per node (all collectors, simulated GPUs); (node, address) once all are ready."""
    exporters = []
    for i, name in enumerate(fleet.node_names(ns.nodes)):
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "spark_exporter",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--gpu.simulate={ns.profile}",
            f"--gpu.seed={i + 1}",
        ]
        exporters.append((name, demo.spawn(f"exporter-{name}", argv, port)))
    await asyncio.gather(*(wait_ready(demo, c, "/-/ready") for _, c in exporters))
    return [(name, f"127.0.0.1:{c.port}") for name, c in exporters]


async def start_fleet(demo: Demo, ns: argparse.Namespace, timeout: float = 120.0) -> list[tuple[str, str]]:
    """All nodes from one fleet simulator process (``python -m spark_exporter.commands.fleet``); (node, address)
    once it listens.

    Raises RuntimeError when it exits or has not listed its ports within ``timeout`` seconds.
    """
    ports_file = demo.workdir / "fleet-ports.json"
    argv = [sys.executable, "-m", "spark_exporter.commands.fleet", f"--nodes={ns.nodes}",
            f"--profile={ns.profile}", f"--ports-file={ports_file}"]
    child = demo.spawn("exporter-fleet", argv, 0)
    deadline = time.monotonic() + timeout
    while not ports_file.exists():
        if child.popen.poll() is not None:
            raise RuntimeError(f"the fleet simulator exited with {child.popen.returncode}:\n{demo.log_tail(child)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the fleet simulator did not listen within {timeout:g}s:\n{demo.log_tail(child)}")
        await asyncio.sleep(0.2)
    ports = json.loads(read_text(str(ports_file), 1 << 20))["nodes"]  # written whole by the fleet (temp file + rename)
    return [(name, f"127.0.0.1:{port}") for name, port in ports.items()]


@dataclass(frozen=True)
class Engine:
    """One inference stand-in the demo runs: its inventory key (= job and ``engine``), module and arguments."""

    key: str  # one of inventory.INFERENCE_KINDS
    module: str  # python -m <module>
    args: tuple[str, ...]  # besides --listen and --seed
    label: str  # for the header: what runs


# The demo's inference servers, one per engine it supports: vLLM and llama.cpp on the first node, SGLang on
# the second (on the first with --nodes=1). Each stand-in simulates its own traffic, advanced when scraped.
# Rates below what the slots serve (a request decodes ~256 tokens at ~30-45 ms each: 4 llama.cpp slots take
# about 0.5 requests/s, 16 SGLang slots about 1.4), so the queues stay short instead of growing until
# SparkInferenceRequestBacklog fires; the stand-ins' own defaults (1 and 2 per second) overload them.
ENGINES = (
    Engine("vllm", "spark_exporter.workloads.vllm_sim", (f"--vllm-version={VLLM_VERSION}", f"--model={VLLM_MODEL}"),
           f"vLLM {VLLM_VERSION} simulator ({VLLM_MODEL})"),
    Engine("llamacpp", "spark_exporter.workloads.llamacpp_sim", ("--parallel=4", "--rate=0.3"),
           "llama.cpp server simulator (no model name)"),
    Engine("sglang", "spark_exporter.workloads.sglang_sim", (f"--model={SGLANG_MODEL}", "--rate=1.0"),
           f"SGLang simulator ({SGLANG_MODEL})"),
)


def engine_nodes(nodes: Sequence[str]) -> list[tuple[Engine, str]]:
    """Which node each of ENGINES runs on: SGLang on the second node when there is one, the others on the first."""
    return [(e, nodes[1] if e.key == "sglang" and len(nodes) > 1 else nodes[0]) for e in ENGINES]


def start_engines(demo: Demo, nodes: Sequence[str]) -> list[tuple[Engine, str, Child]]:
    """Spawn every inference stand-in of :func:`engine_nodes` on a free loopback port (not waited for here);
    (engine, node, child) each. Seeds differ per engine, so their traffic does too.

    Raises OSError when one cannot be started.
    """
    started = []
    for seed, (engine, node) in enumerate(engine_nodes(nodes), start=1):
        port = free_port()
        argv = [sys.executable, "-m", engine.module, f"--listen=127.0.0.1:{port}", f"--seed={seed}", *engine.args]
        started.append((engine, node, demo.spawn(f"{engine.key}-{node}", argv, port)))
    return started


async def start_cluster(demo: Demo, ns: argparse.Namespace) -> tuple[Inventory, Child]:
    """Start the simulated exporters, the inference stand-ins (vLLM, llama.cpp, SGLang), Spark (when available)
    and Prometheus.

    Returns the inventory and the Prometheus child once Prometheus is ready; RuntimeError if one fails.
    """
    spark = start_spark(demo) if ns.spark_unavailable is None else None  # first: its JVM takes longest
    # The stand-ins start before the exporters and come up while they do: no time added to the start-up.
    engines = start_engines(demo, fleet.node_names(ns.nodes))
    engines_ready = asyncio.gather(*(wait_ready(demo, c, "/metrics") for _, _, c in engines))
    try:
        if ns.nodes > fleet.PROCESS_PER_NODE_MAX:
            exporter_addresses = await start_fleet(demo, ns)
        else:
            exporter_addresses = await start_exporters(demo, ns)
    except BaseException:
        engines_ready.cancel()
        with contextlib.suppress(BaseException):
            await engines_ready
        raise
    await engines_ready
    inv_path = demo.workdir / "inventory.yml"
    nodes: list[dict[str, str]] = [{"name": name, "exporter": address} for name, address in exporter_addresses]
    by_name = {n["name"]: n for n in nodes}
    for engine, node, child in engines:
        by_name[node][engine.key] = f"127.0.0.1:{child.port}"
    if spark is not None:
        nodes[0]["spark"] = f"127.0.0.1:{spark.port}"
    inv_path.write_text(yaml.safe_dump({"cluster": "demo", "nodes": nodes}, sort_keys=False))
    inventory = load_inventory(str(inv_path))
    rules = demo.workdir / "rules"
    kit.write_rules(rules)  # the packaged rules/*.yml, from the wheel or the clone
    config = build_prometheus_config(
        inventory,
        [str(rules / "*.yml")],
        scrape_interval=ns.scrape_interval,
        evaluation_interval=ns.scrape_interval,
    )
    (demo.workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    await backfill_history(demo, ns, inventory, exporter_addresses)
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


def _workload_summary(inventory: Inventory, spark: bool) -> str:
    """``workloads on spark-01: vLLM ..., llama.cpp ..., Spark ...; on spark-02: SGLang ...`` (one line)."""
    parts = []
    for node in inventory.nodes:
        names = [e.label for e, n in engine_nodes(inventory.names) if n == node.name]
        if spark and node.spark is not None:
            names.append(f"Spark {SPARK_APP_NAME}")
        if names:
            parts.append(f"{node.name}: {', '.join(names)}")
    return "workloads on " + "; on ".join(parts)


def _node_summary(inventory: Inventory, shown: int = 4) -> str:
    """``spark-01 (127.0.0.1:PORT), ...``; past ``shown`` nodes, the first ones and the count."""
    names = [f"{n.name} ({n.exporter})" for n in inventory.nodes]
    if len(names) <= shown:
        return ", ".join(names)
    return ", ".join(names[:shown]) + f", ... ({len(names)} nodes)"


async def show(rollups: Rollups, header: str, tty: bool, seen: set[str]) -> None:
    """Draw one frame; ``seen`` collects the nodes that have had GPU figures (until then: waiting)."""
    try:
        at = rollups.instant(None)  # one instant for both, as the page does
        ov, nodes = await asyncio.gather(rollups.cluster_overview(at), rollups.nodes(at))
        seen.update(n.node for n in nodes.nodes if n.utilization is not None)
        if seen:
            body = render_overview(ov.to_json()) + "\n\n" + render_nodes(nodes.to_json())
        else:  # before the first scrape and rule evaluation every figure would read n/a
            body = "waiting for the first scrape (Prometheus scrapes the exporters and evaluates rules/) ..."
    except PrometheusError as e:
        body = f"Prometheus: {e}"
    stamp = time.strftime("%H:%M:%S")
    text = f"{header}\n\n[{stamp}] cluster overview (Ctrl-C stops the demo)\n\n{body}\n"
    sys.stdout.write((CLEAR if tty else "-" * 72 + "\n") + text)
    sys.stdout.flush()


async def run_demo(ns: argparse.Namespace, demo: Demo) -> None:
    """Run the demo until a signal (SIGINT, SIGTERM, SIGHUP) or the duration: start the cluster and API,
    then redraw the cluster overview every refresh interval.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal closed
        loop.add_signal_handler(sig, stop.set)
    print(f"demo: temp dir {demo.workdir}", flush=True)
    if ns.spark_unavailable is None:
        print(f"demo: Spark: a local application ({SPARK_APP_NAME}) with a slow job in a loop on spark-01", flush=True)
    else:
        print(f"demo: Spark: not started ({ns.spark_unavailable}); to add a real local Spark application, "
              f"{spark_app.ENABLE_HINT}", flush=True)
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
    page_url = f"http://127.0.0.1:{api_port}/"
    api_url = f"http://127.0.0.1:{api_port}/api/v1/cluster/overview"
    print(f"demo: Command Center page {page_url} (open it in a browser)", flush=True)
    state = demo.write_state({"prometheus": prom.url, "api": api_url, "page": page_url})
    print(f"demo: state {state}", flush=True)
    inv = demo.workdir / "inventory.yml"
    header = (
        f"Command Center page {page_url}\n"
        f"Prometheus {prom.url}   API {api_url}\n"
        f"nodes: {_node_summary(inventory)}\n"
        f"{_workload_summary(inventory, ns.spark_unavailable is None)}\n"
        f"inventory {inv}; try in another terminal:\n"
        f"  spark-exporter query --prometheus.url {prom.url} --inventory {inv} overview\n"
        f"  (or 'spark' or 'inference' in place of 'overview')\n"
        f"  curl -s {api_url}"
    )
    tty = sys.stdout.isatty()
    deadline = time.monotonic() + ns.duration_s if ns.duration_s > 0 else None
    watcher = asyncio.create_task(watch(demo, stop, api_task))
    async with PrometheusClient(prom.url) as client:
        rollups = Rollups(client, inventory, scrape_interval=ns.scrape_s)
        seen: set[str] = set()
        while not stop.is_set():
            await show(rollups, header, tty, seen)
            if deadline is not None and time.monotonic() >= deadline:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), ns.refresh_s)
    stop.set()
    fatal = await watcher
    with contextlib.suppress(Exception):  # its failure is reported by the watcher
        await api_task
    if fatal is not None:
        raise RuntimeError(fatal)


def _schema(ns: argparse.Namespace) -> Schema:
    return demo_schema()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> argparse.Namespace:
    return argparse.Namespace(
        nodes=cfg["nodes"],
        profile=cfg["profile"],
        scrape_interval=format_duration(cfg["scrape-interval"]),  # for prometheus.yml
        scrape_s=cfg["scrape-interval"],
        refresh_s=cfg["refresh"],
        duration_s=cfg["duration"],
        api_port=cfg["api-port"],
    )


def _execute(ns: argparse.Namespace) -> int:
    setup_logging("error", "logfmt")  # warnings would scroll the live screen
    for stale in remove_stale_dirs(tempfile.gettempdir()):
        print(f"demo: removed {stale}, left behind by a demo that was killed", flush=True)
    ns.prometheus = shutil.which("prometheus")
    if ns.prometheus is None:
        return fail(COMMAND.prog, "no 'prometheus' binary on PATH ('./dev.sh demo' installs it)")
    try:
        kit.asset_dir("rules")
    except kit.KitError as e:
        return fail(COMMAND.prog, str(e))
    ns.spark_unavailable = spark_app.unavailable_reason()
    demo = Demo(make_workdir())
    code = 0
    try:
        asyncio.run(run_demo(ns, demo))
    except (RuntimeError, OSError) as e:
        code = fail(COMMAND.prog, str(e))
    except KeyboardInterrupt:  # a second Ctrl-C during start-up or shutdown
        pass
    finally:
        demo.stop_all()
        shutil.rmtree(demo.workdir, ignore_errors=True)
        print(f"demo: stopped {len(demo.children)} processes, removed {demo.workdir}", flush=True)
    return code


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute)


def main(argv: Sequence[str]) -> int:
    """``spark-exporter demo``: exit status 0, 1 (start-up failed, no prometheus binary) or 2 (bad settings)."""
    return run(COMMAND, argv)
