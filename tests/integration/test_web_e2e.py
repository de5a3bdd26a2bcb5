"""The built-in live page in a real headless Chromium, against a live simulated cluster and the real API.

Two simulated GB10 exporters, a real Prometheus scraping them with the generated configuration,
``spark-exporter api`` serving the page built from ``web/`` (``npm run build``), and Debian's
Chromium driven by Playwright. The page must show what the API answered, mark Prometheus outages
with a banner while keeping the last data, recover without a reload, and show an unknown node as
an error. Screenshots go to a temporary directory, never into the tree.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import struct
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.cluster import node_name, write_inventory
from helpers.host import sysfs_with_hwmon
from helpers.procs import PYTHON, Proc, exporter, free_port, require_binary, start_process, tempdir, wait_for
from helpers.workload_cluster import WorkloadCluster
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

WEBUI = Path(__file__).resolve().parents[2] / "spark_exporter" / "query" / "webui" / "index.html"
DASH = "—"
POLL = 5.0  # s, the page's overview polling interval (web/src/hooks.ts)


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("Debian's chromium is not installed: run ./dev.sh setup (apt-get install chromium)")


class RestartablePrometheus:
    """A real Prometheus on a fixed port and data directory, so it can be stopped and started again."""

    def __init__(self, config: dict, workdir: Path) -> None:
        self.binary = require_binary("prometheus")
        self.port = free_port()
        self.workdir = workdir
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [self.binary, f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"]
        self.proc = start_process("prometheus", argv, self.port, self.workdir, f"{self.url}/-/ready", 60)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, Any]]:
    """Two simulated GB10 nodes (spark-01 with the fixture's ConnectX-7 RDMA ports, spark-02 without any),
    a restartable Prometheus, and the API serving the page."""
    if not WEBUI.is_file():
        raise RuntimeError(f"the live page is not built ({WEBUI} missing): run `./dev.sh web` first")
    with contextlib.ExitStack() as stack:
        sysfs = sysfs_with_hwmon(stack.enter_context(tempdir("web-e2e-sysfs")))
        rdma = {0: [f"--path.sysfs={sysfs}"]}
        exporters = {node_name(i): stack.enter_context(exporter("--gpu.simulate=gb10", f"--gpu.seed={i + 1}",
                                                                *rdma.get(i, [])))
                     for i in range(2)}
        work = stack.enter_context(tempdir("web-e2e"))
        write_inventory(work / "inventory.yml", exporters)
        inventory = load_inventory(str(work / "inventory.yml"))
        config = build_prometheus_config(inventory, [], scrape_interval="1s", evaluation_interval="1s")
        prom = RestartablePrometheus(config, work)
        prom.start()
        stack.callback(prom.stop)
        port = free_port()
        argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                f"--prometheus.url={prom.url}", f"--inventory={work / 'inventory.yml'}",
                "--api.rate-limit=0", "--api.cache-ttl=1s"]
        api = start_process("api", argv, port, work, f"http://127.0.0.1:{port}/-/healthy")
        stack.callback(api.stop)
        # Wait until Prometheus has scraped both nodes, so the page has figures to show.
        wait_for(lambda: api_json(api, "/api/v1/cluster/overview").get("nodesUp") == 2, 60,
                 what="both nodes up in the overview")
        yield {"api": api, "prometheus": prom, "inventory": inventory, "work": work}


def api_json(api: Proc, path: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"{api.url}{path}", timeout=10) as resp:  # noqa: S310 - loopback test server
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class PageSession:
    """A page that records every request it makes and the last overview answer it received."""

    def __init__(self, browser: Any, base: str, width: int = 1280, height: int = 800) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.overview_responses: list[Any] = []  # Playwright responses; bodies are read outside the handler
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", self._on_response)
        self.base = base

    def _on_response(self, resp: Any) -> None:
        if resp.url.endswith("/api/v1/cluster/overview") and resp.status == 200:
            self.overview_responses.append(resp)

    def last_overview(self) -> dict[str, Any] | None:
        """The body of the newest overview answer the page received (read here, not in the event handler)."""
        for resp in reversed(self.overview_responses):
            with contextlib.suppress(Exception):  # a response still arriving has no body yet
                return dict(resp.json())
        return None

    def open(self, path: str = "/") -> None:
        self.page.goto(self.base + path)

    def text(self, test_id: str) -> str:
        return str(self.page.get_by_test_id(test_id).first.inner_text(timeout=15_000)).strip()

    def close(self) -> None:
        self.context.close()


def to_fixed(value: float, decimals: int) -> str:
    """JavaScript's Number.prototype.toFixed: ties on the exact binary value round up (26.25 -> "26.3"),
    where Python's format rounds them to even ("26.2")."""
    return str(Decimal(value).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def fmt(value: float | None, unit: str, decimals: int) -> str:
    """web/src/format.ts's fmt, for comparing the page with the API."""
    if value is None or not math.isfinite(value):
        return DASH
    return f"{to_fixed(value, decimals)}{unit}"


def fmt_percent(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{to_fixed(value, 0 if abs(value) >= 10 else 1)} %"


def fmt_rate(value: float | None) -> str:
    """web/src/format.ts's fmtRate: decimal units, 0 decimals from 100 up and for B/s."""
    if value is None or not math.isfinite(value):
        return DASH
    units = ["B/s", "kB/s", "MB/s", "GB/s", "TB/s"]
    i = 0
    while abs(value) >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{to_fixed(value, 0 if value >= 100 or i == 0 else 1)} {units[i]}"


def expected_cards(ov: dict[str, Any]) -> dict[str, str]:
    return {
        "nodes-up": f"{ov['nodesUp']} / {ov['nodesTotal']}" if ov.get("nodesUp") is not None else DASH,
        "gpu-util": fmt_percent(ov.get("gpuUtilization")),
        "mem-used": fmt(ov.get("memoryUsedGB"), " GiB", 1),
        "mem-total": fmt(ov.get("memoryTotalGB"), " GiB", 1),
        "power": fmt(ov.get("powerDrawW"), " W", 0),
        "max-temp": fmt(ov.get("maxGpuTemperatureC"), " °C", 0),
    }


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", head[16:24])


class TestLivePage:
    def test_cards_show_what_the_api_answered(self, live: dict[str, Any], browser: Any) -> None:
        """Each overview card shows exactly the figures of the page's latest API answer, formatted."""
        s = PageSession(browser, live["api"].url)
        try:
            s.open()
            s.page.get_by_test_id("gpu-util").wait_for(timeout=20_000)

            def matches() -> bool:
                last = s.last_overview()
                if last is None:
                    return False
                want = expected_cards(last)
                return all(s.text(k) == v for k, v in want.items())

            wait_for(matches, 6 * POLL, what="cards equal to the last overview answer")
            direct = api_json(live["api"], "/api/v1/cluster/overview")
            assert s.text("nodes-up") == "2 / 2" == f"{direct['nodesUp']} / {direct['nodesTotal']}"
            assert s.text("mem-total") == fmt(direct["memoryTotalGB"], " GiB", 1)
            assert s.text("gpu-util") != DASH
        finally:
            s.close()

    def test_one_panel_per_node_with_history(self, live: dict[str, Any], browser: Any) -> None:
        """Every inventory node gets a panel marked up, with its utilisation and a history chart."""
        s = PageSession(browser, live["api"].url)
        try:
            s.open()
            for node in ("spark-01", "spark-02"):
                panel = s.page.get_by_test_id(f"node-{node}")
                panel.wait_for(timeout=20_000)
                wait_for(lambda p=panel: p.get_attribute("data-state") == "up", 20, what=f"{node} up")
                assert s.text(f"util-{node}").endswith("%")
                s.page.get_by_test_id(f"history-{node}").locator("canvas").first.wait_for(timeout=20_000)
        finally:
            s.close()

    def test_memory_card_breaks_unified_memory_down(self, live: dict[str, Any], browser: Any) -> None:
        """On GB10 nodes the memory card splits the shared memory into what the GPUs hold, the rest (when there
        is any) and what is free; its total is the sum of the nodes' totals the API reports."""
        s = PageSession(browser, live["api"].url)
        try:
            s.open()
            card = s.page.get_by_test_id("memory-card-breakdown")
            card.wait_for(timeout=30_000)
            text = card.inner_text()
            # "other" (the rest of the shared memory) is left out when it rounds to nothing
            assert re.search(r"GPU \d+\.\d GiB.*(other \d+\.\d GiB )?· free \d+\.\d GiB", text.replace("\n", " ")), text
            gpus = [api_json(live["api"], f"/api/v1/nodes/{n}/gpu") for n in ("spark-01", "spark-02")]
            assert all(g["memorySource"] == "unified" for g in gpus)
            parts = [float(x) for x in re.findall(r"(\d+\.\d) GiB", text)]
            total_gib = sum(g["memoryTotalMB"] for g in gpus) / 1024  # host memory: the same on every answer
            assert sum(parts) == pytest.approx(total_gib, abs=0.2)
        finally:
            s.close()

    def test_rdma_ports_show_under_the_network_rows(self, live: dict[str, Any], browser: Any) -> None:
        """spark-01's panel has a row per RDMA port with the API's rates and state; spark-02, without RDMA, none."""
        def rated() -> list[dict[str, Any]]:
            ports = api_json(live["api"], "/api/v1/network")["rdmaPorts"]
            return ports if ports and all(p["rxBytesPerSec"] is not None for p in ports) else []

        ports = wait_for(rated, 30, what="RDMA port rates in the API")
        assert {p["node"] for p in ports} == {"spark-01"}
        s = PageSession(browser, live["api"].url)
        try:
            s.open()
            for p in ports:
                row = s.page.get_by_test_id(f"rdma-spark-01-{p['device']}-{p['port']}")
                row.wait_for(timeout=20_000)
                assert row.get_by_test_id("rdma-state").text_content() == p["state"]
                want = (fmt_rate(p["rxBytesPerSec"]), fmt_rate(p["txBytesPerSec"]))
                wait_for(lambda r=row, w=want: (r.get_by_test_id("rdma-rx").text_content(),
                                                r.get_by_test_id("rdma-tx").text_content()) == w,
                         3 * POLL, what=f"{p['device']} rates as the API's")
            s.page.get_by_test_id("util-spark-02").wait_for(timeout=20_000)
            assert s.page.locator('[data-testid^="rdma-spark-02-"]').count() == 0
        finally:
            s.close()

    def test_no_third_party_requests(self, live: dict[str, Any], browser: Any) -> None:
        """The page loads nothing from any origin but the API's own."""
        s = PageSession(browser, live["api"].url)
        try:
            s.open()
            s.page.get_by_test_id("gpu-util").wait_for(timeout=20_000)
            s.page.wait_for_timeout(1000)
            assert s.requests, "the page made no requests"
            foreign = [u for u in s.requests if not u.startswith(live["api"].url)]
            assert foreign == []
        finally:
            s.close()

    def test_no_console_errors(self, live: dict[str, Any], browser: Any) -> None:
        """Loading the page logs no error in the browser's console (no 404 for a favicon, no failed script)."""
        s = PageSession(browser, live["api"].url)
        errors: list[str] = []
        s.page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        try:
            s.open()
            s.page.get_by_test_id("node-spark-02").locator("canvas").first.wait_for(timeout=20_000)
            s.page.wait_for_timeout(1000)
            assert errors == []
        finally:
            s.close()

    def test_unknown_node_shows_an_error_state(self, live: dict[str, Any], browser: Any) -> None:
        """A link to a node the inventory does not know shows the API's error, not a blank page."""
        s = PageSession(browser, live["api"].url)
        try:
            s.open("/#/node/no-such-node")
            panel = s.page.get_by_test_id("node-no-such-node")
            panel.wait_for(timeout=20_000)
            wait_for(lambda: panel.get_attribute("data-state") == "error", 20, what="error state")
            assert "Unknown node" in panel.inner_text()
            assert s.text("gpu-util") != ""  # the rest of the page still renders
        finally:
            s.close()

    def test_screenshots_at_desktop_and_phone_width(self, live: dict[str, Any], browser: Any,
                                                    tmp_path: Path) -> None:
        """The page renders at 1280x800 (screenshot written to a temp dir) and fits a phone's width."""
        s = PageSession(browser, live["api"].url)
        try:
            s.open()
            s.page.get_by_test_id("node-spark-02").locator("canvas").first.wait_for(timeout=20_000)
            shot = tmp_path / "command-center-1280x800.png"
            s.page.screenshot(path=str(shot))
            assert png_size(shot) == (1280, 800)
        finally:
            s.close()
        phone = PageSession(browser, live["api"].url, width=390, height=844)
        try:
            phone.open()
            phone.page.get_by_test_id("gpu-util").wait_for(timeout=20_000)
            overflow = phone.page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= 390
        finally:
            phone.close()

    def test_prometheus_down_banner_appears_and_clears(self, live: dict[str, Any], browser: Any) -> None:
        """Stopping Prometheus shows a banner within a poll while the last figures stay; restarting clears it."""
        s = PageSession(browser, live["api"].url)
        prom: RestartablePrometheus = live["prometheus"]
        try:
            s.open()
            s.page.get_by_test_id("gpu-util").wait_for(timeout=20_000)
            wait_for(lambda: s.text("gpu-util") != DASH, 20, what="figures on the page")
            prom.stop()
            banner = s.page.get_by_test_id("banner")
            banner.wait_for(timeout=int((2 * POLL + 5) * 1000))
            assert banner.inner_text().strip() != ""
            assert s.text("gpu-util") != DASH, "the last data must stay visible"
            prom.start()
            banner.wait_for(state="detached", timeout=int((6 * POLL + 30) * 1000))
            assert s.page.get_by_test_id("banner").count() == 0
        finally:
            if prom.proc is None:
                prom.start()
            s.close()


class TestBearerToken:
    def test_page_asks_for_the_token_and_uses_it(self, live: dict[str, Any], browser: Any) -> None:
        """With a token-protected API the page asks once, keeps the token in session storage, and shows data."""
        work: Path = live["work"]
        token_file = work / "token"
        token_file.write_text("e2e-secret-token\n")
        os.chmod(token_file, 0o600)
        port = free_port()
        argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                f"--prometheus.url={live['prometheus'].url}", f"--inventory={work / 'inventory.yml'}",
                f"--api.token-file={token_file}", "--api.rate-limit=0"]
        api = start_process("api-token", argv, port, work, f"http://127.0.0.1:{port}/-/healthy")
        s = PageSession(browser, api.url)
        try:
            s.open()
            s.page.get_by_placeholder("API bearer token").fill("e2e-secret-token")
            s.page.get_by_role("button", name="Use token").click()
            wait_for(lambda: s.text("nodes-up") == "2 / 2", 30, what="figures after entering the token")
            assert s.page.evaluate("sessionStorage.getItem('spark-exporter.token')") == "e2e-secret-token"
        finally:
            s.close()
            api.stop()


class TestWorkloadsOnThePage:
    def test_spark_and_inference_tables_show_the_api_figures(self, workloads: WorkloadCluster, browser: Any) -> None:
        """Against a real Spark application and the vLLM simulators, the page lists the application with the
        API's active jobs and executors, and one inference row per model."""
        port = free_port()
        argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                f"--prometheus.url={workloads.prometheus_url}", f"--inventory={workloads.inventory_path}",
                "--api.rate-limit=0", "--api.cache-ttl=1s"]
        with tempdir("web-workloads") as work:
            api = start_process("api-workloads", argv, port, work, f"http://127.0.0.1:{port}/-/healthy")
            s = PageSession(browser, api.url)
            try:
                s.open()
                app_id = workloads.spark.app_id
                row = s.page.get_by_test_id(f"spark-app-{app_id}")
                row.wait_for(timeout=30_000)
                spark = api_json(api, "/api/v1/spark")
                app = next(a for a in spark["applications"] if a["applicationId"] == app_id)
                cells = [c.strip() for c in row.locator("td").all_inner_texts()]
                assert cells[0] == app["applicationName"]
                assert cells[4] == fmt(app["executors"], "", 0)  # executors do not change while the app runs
                models = api_json(api, "/api/v1/inference")["models"]
                rows = s.page.get_by_test_id("inference").locator("tbody tr")
                wait_for(lambda: rows.count() == len(models) > 0, 20, what="one inference row per model")
            finally:
                s.close()
                api.stop()
