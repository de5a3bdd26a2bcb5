"""The live page's second round in a real headless Chromium: one snapshot per frame, named alerts, four histories
per node at any width, a steady outage state, accessibility (axe-core), the keyboard, and a 64-node fleet.

Two simulated GB10 exporters, a real Prometheus with the packaged rules plus one alerting rule of the test's own
that fires at once, the real API serving the built page, and Debian's Chromium driven by Playwright. axe-core
comes from web/node_modules (installed by ``./dev.sh web``) and is injected into the page.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.cluster import node_name, write_inventory
from helpers.procs import PYTHON, Proc, exporter, free_port, prometheus, start_process, tempdir, wait_for
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WEBUI = ROOT / "spark_exporter" / "query" / "webui" / "index.html"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
RULES = sorted((ROOT / "rules").glob("*.yml"))
DASH = "—"
POLL = 5.0  # s, the page's overview polling interval (web/src/hooks.ts)
RUNBOOK = "https://example.org/docs/alerts.md#testgpuwarm"
DEMO_ENGINES = (("vllm", "spark-01"), ("llamacpp", "spark-01"), ("sglang", "spark-02"))  # (engine, node)
TOKENS_COLUMN = 5  # the inference table's "tokens/s" cell (web/src/app/Workloads.tsx)
TEST_ALERTS = {
    "groups": [{
        "name": "page-test",
        "rules": [{
            "alert": "TestGpuWarm", "expr": "max by (node, gpu) (DCGM_FI_DEV_GPU_TEMP) > 0", "for": "0s",
            "labels": {"severity": "warning"},
            "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.node }} is warm", "runbook_url": RUNBOOK},
        }],
    }],
}


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise RuntimeError("Debian's chromium is not installed: run ./dev.sh setup (apt-get install chromium)")


def start_api(work: Path, prometheus_url: str, inventory: Path, *extra: str) -> Proc:
    port = free_port()
    argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
            f"--prometheus.url={prometheus_url}", f"--inventory={inventory}", "--api.rate-limit=0",
            "--api.cache-ttl=1s", *extra]
    return start_process(f"api-{port}", argv, port, work, f"http://127.0.0.1:{port}/-/healthy")


def api_json(api: Proc, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{api.url}{path}", timeout=10) as resp:  # noqa: S310 - loopback test server
        return dict(json.loads(resp.read()))


@pytest.fixture(scope="module")
def live() -> Iterator[dict[str, Any]]:
    """Two simulated GB10 nodes, Prometheus with the packaged rules and TEST_ALERTS, and the API serving the page."""
    if not WEBUI.is_file():
        raise RuntimeError(f"the live page is not built ({WEBUI} missing): run `./dev.sh web` first")
    with contextlib.ExitStack() as stack:
        exporters = {node_name(i): stack.enter_context(exporter("--gpu.simulate=gb10", f"--gpu.seed={i + 1}"))
                     for i in range(2)}
        work = stack.enter_context(tempdir("page-e2e"))
        write_inventory(work / "inventory.yml", exporters)
        (work / "test-alerts.yml").write_text(yaml.safe_dump(TEST_ALERTS))
        config = build_prometheus_config(load_inventory(str(work / "inventory.yml")), [], scrape_interval="1s",
                                         evaluation_interval="1s")
        prom = stack.enter_context(prometheus(config, rule_files=[*RULES, work / "test-alerts.yml"]))
        api = start_api(work, prom.url, work / "inventory.yml")
        stack.callback(api.stop)
        wait_for(lambda: api_json(api, "/api/v1/cluster/overview").get("nodesUp") == 2, 60, what="both nodes up")
        yield {"api": api, "prometheus": prom, "work": work, "nodes": list(exporters)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def page_at(browser: Any, url: str, width: int = 1280, height: int = 800, axe: bool = False) -> Iterator[Any]:
    """A fresh context on ``url``; ``axe`` lets the test inject axe-core past the page's CSP (script-src 'self')."""
    context = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=axe)
    try:
        page = context.new_page()
        page.goto(url)
        yield page
    finally:
        context.close()


def serious_violations(page: Any) -> list[str]:
    """axe-core's violations of impact serious or critical on the page as it is now, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in result if v["impact"] in ("serious", "critical")]


# One frame, read in one go inside the page so that no poll can land between two reads.
READ_FRAME = """() => {
  const t = (id) => document.querySelector(`[data-testid="${id}"]`);
  const panels = [...document.querySelectorAll('section.node[data-testid^="node-"]')];
  return {
    cards: t('cards')?.getAttribute('data-time') ?? null,
    asOf: t('as-of')?.getAttribute('data-time') ?? null,
    power: t('power')?.textContent ?? null,
    maxTemp: t('max-temp')?.textContent ?? null,
    panels: panels.map((p) => {
      const node = p.getAttribute('data-testid').slice(5);
      return {node, time: p.getAttribute('data-time'), temp: t(`temp-${node}`)?.textContent ?? null,
              power: t(`power-${node}`)?.textContent ?? null};
    }),
  };
}"""


def number(text: str | None, unit: str) -> float:
    assert text is not None and text.endswith(unit), text
    return float(text[: -len(unit)])


class TestOneSnapshot:
    def test_five_frames_where_the_cards_are_the_aggregate_of_the_panels(self, live: dict[str, Any],
                                                                          browser: Any) -> None:
        """In five successive frames every panel shows the cards' instant, the hottest GPU card is the hottest
        panel and the power card the sum of the panels' power (to the cards' rounding)."""
        with page_at(browser, live["api"].url) as page:
            page.get_by_test_id("temp-spark-02").wait_for(timeout=30_000)
            seen: list[str] = []
            deadline = time.monotonic() + 10 * POLL + 30
            while len(seen) < 5:
                assert time.monotonic() < deadline, f"only {len(seen)} frames: {seen}"
                f = page.evaluate(READ_FRAME)
                if f["cards"] is None or f["cards"] in seen or len(f["panels"]) != 2:
                    page.wait_for_timeout(200)
                    continue
                assert f["asOf"] == f["cards"]
                assert {p["time"] for p in f["panels"]} == {f["cards"]}, f
                temps = [number(p["temp"], " °C") for p in f["panels"]]
                assert number(f["maxTemp"], " °C") == max(temps), f
                powers = [number(p["power"], " W") for p in f["panels"]]
                assert abs(number(f["power"], " W") - sum(powers)) <= 0.5 + 0.05 * len(powers), f
                seen.append(f["cards"])
            assert page.get_by_test_id("as-of").inner_text().startswith("as of ")


class TestAlertsPanel:
    def test_a_firing_alert_is_listed_by_name_with_its_runbook(self, live: dict[str, Any], browser: Any) -> None:
        """The test's firing rule appears by name, per node and GPU, with its severity, summary and runbook link."""
        with page_at(browser, live["api"].url) as page:
            rows = page.locator('[data-testid="alert-TestGpuWarm"]')
            wait_for(lambda: rows.count() == 2, 60, what="TestGpuWarm listed for both nodes")
            texts = sorted(rows.all_inner_texts())
            assert "GPU 0 on spark-01 is warm" in texts[0] and "spark-01 · GPU 0" in texts[0]
            assert rows.first.get_attribute("data-state") == "firing"
            assert rows.first.get_attribute("data-severity") == "warning"
            assert rows.first.get_by_role("link", name="TestGpuWarm").get_attribute("href") == RUNBOOK


class TestHistories:
    def test_four_charts_per_node_with_points(self, live: dict[str, Any], browser: Any) -> None:
        """Each node has utilisation, temperature, power and memory charts; at least three have points."""
        with page_at(browser, live["api"].url) as page:
            for node in live["nodes"]:
                history = page.get_by_test_id(f"history-{node}")
                history.wait_for(timeout=30_000)

                def drawn(h: Any = history) -> bool:
                    charts = h.locator('[data-testid^="chart-"]')
                    points = [int(charts.nth(i).get_attribute("data-points") or 0) for i in range(charts.count())]
                    return charts.count() == 4 and sum(p > 0 for p in points) >= 3

                wait_for(drawn, 60, interval=1.0, what=f"{node}'s charts with points")
                assert history.locator("canvas").count() >= 4

    def test_narrowing_from_1280_to_390_never_scrolls_sideways(self, live: dict[str, Any], browser: Any) -> None:
        """Loaded at 1280 px and narrowed to 390 px, the page does not scroll sideways, each chart fits its box
        and no figure with its unit (e.g. "12.3 GiB") breaks over two lines."""
        with page_at(browser, live["api"].url) as page:
            page.get_by_test_id("history-spark-02").locator("canvas").first.wait_for(timeout=30_000)
            page.get_by_test_id("memory-card-breakdown").wait_for(timeout=30_000)
            for width in (1280, 900, 390):
                page.set_viewport_size({"width": width, "height": 800})
                page.wait_for_timeout(400)  # a ResizeObserver round and a frame
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{overflow}px of sideways scrolling at {width}px"
                too_wide = page.evaluate("""() => [...document.querySelectorAll('.chart')].filter((c) => {
                    const cv = c.querySelector('canvas'); return cv && cv.getBoundingClientRect().width >
                    c.getBoundingClientRect().width + 1; }).length""")
                assert too_wide == 0, f"{too_wide} charts wider than their box at {width}px"
                broken = page.evaluate("""() => [...document.querySelectorAll('.v')]
                    .filter((e) => /GiB|°C| W$| %$/.test(e.textContent) && e.getClientRects().length > 1)
                    .map((e) => e.textContent)""")
                assert broken == [], f"figures broken over lines at {width}px: {broken}"


class TestStates:
    def test_prometheus_down_from_the_start_is_one_steady_error(self, live: dict[str, Any], browser: Any) -> None:
        """With nothing at the Prometheus URL from the start, the banner appears and stays for three polls, the
        error is stated once, no skeleton comes back, and the cards show dashes."""
        work: Path = live["work"]
        api = start_api(work, f"http://127.0.0.1:{free_port()}", work / "inventory.yml")
        try:
            with page_at(browser, api.url, axe=True) as page:
                page.get_by_test_id("banner").wait_for(timeout=int((2 * POLL + 10) * 1000))
                message = page.get_by_test_id("banner").inner_text()
                assert "no figures received yet" in message
                samples = []
                end = time.monotonic() + 3 * POLL
                while time.monotonic() < end:
                    samples.append(page.evaluate("""() => ({
                        banner: document.querySelectorAll('[data-testid="banner"]').length,
                        busy: document.querySelectorAll('[aria-busy="true"]').length,
                        cards: document.querySelector('[data-testid="cards"]')?.getAttribute('data-state'),
                        body: document.body.innerText })"""))
                    page.wait_for_timeout(250)
                assert all(s["banner"] == 1 for s in samples), "the banner went away during the outage"
                assert all(s["busy"] == 0 for s in samples), "loading skeletons came back during the outage"
                assert all(s["cards"] == "outage" for s in samples)
                reason = re.sub(r"^Telemetry unavailable: ", "", message).split(" (")[0]
                assert all(s["body"].count(reason) == 1 for s in samples), "the error is stated more than once"
                assert serious_violations(page) == []
        finally:
            api.stop()

    def test_a_failing_workload_endpoint_shows_its_error_in_its_table(self, live: dict[str, Any],
                                                                      browser: Any) -> None:
        """When /api/v1/spark fails while the rest answers, the Spark table states that error and its reason."""
        body = json.dumps({"status": "error", "errorType": "query_failed", "error": "query rejected (bad_data): x"})
        with page_at(browser, "about:blank") as page:
            page.route("**/api/v1/spark", lambda route: route.fulfill(status=502, body=body,
                                                                       content_type="application/json"))
            page.goto(live["api"].url)
            table = page.get_by_test_id("spark-apps")
            table.wait_for(timeout=30_000)
            wait_for(lambda: table.get_attribute("data-state") == "error", 20, what="the Spark error state")
            text = table.inner_text()
            assert "query rejected (bad_data): x" in text and "query_failed" in text
            assert page.get_by_test_id("banner").count() == 0


class TestAccessibility:
    def test_loaded_page_has_no_serious_violations_and_works_by_keyboard(self, live: dict[str, Any],
                                                                          browser: Any) -> None:
        """The loaded page passes axe-core (no serious or critical violation), and a history range can be
        chosen with Tab and Enter."""
        with page_at(browser, live["api"].url, axe=True) as page:
            page.get_by_test_id("history-spark-01").locator("canvas").first.wait_for(timeout=30_000)
            page.locator('[data-testid^="alert-"]').first.wait_for(timeout=60_000)
            assert serious_violations(page) == []
            button = page.get_by_role("group", name="history range of spark-01").get_by_role("button", name="6h")
            for _ in range(60):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement?.textContent") == "6h":
                    break
            page.keyboard.press("Enter")
            wait_for(lambda: button.get_attribute("aria-pressed") == "true", 10, what="6h chosen by keyboard")

    def test_loading_state_has_no_serious_violations(self, live: dict[str, Any], browser: Any) -> None:
        """While no answer has arrived (the API's answers held back), the skeletons pass axe-core."""
        with page_at(browser, "about:blank", axe=True) as page:
            page.route("**/api/v1/**", lambda route: None)  # never answered while the test looks
            page.goto(live["api"].url)
            page.locator('[aria-busy="true"]').first.wait_for(timeout=10_000)
            assert page.get_by_test_id("cards").get_attribute("data-state") == "loading"
            assert serious_violations(page) == []

    def test_token_prompt_has_no_serious_violations(self, live: dict[str, Any], browser: Any) -> None:
        """The bearer-token prompt passes axe-core and takes the token by keyboard alone."""
        work: Path = live["work"]
        token = work / "token"
        token.write_text("page-e2e-secret-token\n")
        token.chmod(0o600)
        api = start_api(work, live["prometheus"].url, work / "inventory.yml", f"--api.token-file={token}")
        try:
            with page_at(browser, api.url, axe=True) as page:
                field = page.get_by_label("API bearer token")
                field.wait_for(timeout=20_000)
                assert serious_violations(page) == []
                field.focus()
                page.keyboard.type("page-e2e-secret-token")
                page.keyboard.press("Enter")
                wait_for(lambda: page.get_by_test_id("nodes-up").count() > 0
                         and page.get_by_test_id("nodes-up").inner_text() == "2 / 2", 30, what="figures")
        finally:
            api.stop()

    def test_the_api_parameter_never_carries_the_token_to_another_origin(self, live: dict[str, Any],
                                                                         browser: Any) -> None:
        """With ?api= naming another origin, the page's Content-Security-Policy stops the request: no request
        (and so no token) leaves for that origin."""
        other = f"http://127.0.0.1:{free_port()}"
        with page_at(browser, "about:blank") as page:
            sent: list[str] = []
            page.on("request", lambda r: sent.append(r.url))
            page.add_init_script("sessionStorage.setItem('spark-exporter.token', 'never-leaves')")
            page.goto(f"{live['api'].url}/?api={other}")
            page.wait_for_timeout(3000)
            assert [u for u in sent if u.startswith(other)] == []


class TestFleet:
    def test_64_nodes_each_listed_by_name_with_a_panel_on_demand(self, live: dict[str, Any], browser: Any) -> None:
        """With 64 nodes the page shows one small tile per node, every name visible and the whole fleet within
        one 1280x800 screen's height; a name opens that node's panel."""
        work: Path = live["work"]
        inv = yaml.safe_load((work / "inventory.yml").read_text())
        exporters = [n["exporter"] for n in inv["nodes"]]
        names = [f"fleet-{i + 1:02d}" for i in range(64)]
        fleet = work / "fleet"
        fleet.mkdir(exist_ok=True)
        # 64 node names over the two simulated exporters: Prometheus scrapes each as its own target.
        (fleet / "inventory.yml").write_text(yaml.safe_dump(
            {"cluster": "fleet", "nodes": [{"name": n, "exporter": exporters[i % 2]} for i, n in enumerate(names)]}))
        config = build_prometheus_config(load_inventory(str(fleet / "inventory.yml")), [], scrape_interval="5s",
                                         evaluation_interval="5s")
        with prometheus(config) as prom:
            api = start_api(fleet, prom.url, fleet / "inventory.yml")
            try:
                wait_for(lambda: api_json(api, "/api/v1/cluster/overview").get("nodesUp") == 64, 60,
                         interval=1.0, what="64 nodes up")
                with page_at(browser, api.url) as page:
                    table = page.get_by_test_id("node-table")
                    table.wait_for(timeout=30_000)
                    rows = table.locator("li.tile")
                    wait_for(lambda: rows.count() == 64, 30, what="64 tiles")
                    for name in names:
                        assert table.get_by_role("link", name=name, exact=True).is_visible()
                    height = table.bounding_box()["height"]
                    assert height <= 800, f"the fleet takes {height}px: more than one 800px screen"
                    assert page.locator("section.node").count() == 0  # no panel until asked for
                    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
                    table.get_by_role("link", name="fleet-17", exact=True).click()
                    panel = page.get_by_test_id("node-fleet-17")
                    panel.wait_for(timeout=30_000)
                    wait_for(lambda: panel.get_attribute("data-state") == "up", 30, what="fleet-17's panel")
            finally:
                api.stop()


class TestDemoHistory:
    def test_the_demo_opens_with_full_charts_and_every_inference_engine(self, browser: Any) -> None:
        """Within a minute of `spark-exporter demo` starting, every node has at least three charts holding the
        backfilled hour (well over a hundred points each), not a lone dot at the right edge; and the inference
        table has a row for each engine the demo runs (vLLM and llama.cpp on spark-01, SGLang on spark-02),
        each with a tokens/s figure above 0, and no other row."""
        import subprocess
        import sys

        port = free_port()
        with tempdir("demo-history") as d:
            log = (d / "demo.log").open("wb")
            demo = subprocess.Popen([sys.executable, "-m", "spark_exporter", "demo", f"--api-port={port}"],
                                    stdout=log, stderr=subprocess.STDOUT)
            try:
                url = f"http://127.0.0.1:{port}"
                wait_for(lambda: demo.poll() is None and _answers(url), 60, interval=1.0, what="the demo's API")
                with page_at(browser, url) as page:
                    for node in ("spark-01", "spark-02"):
                        history = page.get_by_test_id(f"history-{node}")
                        history.wait_for(timeout=60_000)

                        def full(h: Any = history) -> bool:
                            charts = h.locator('[data-testid^="chart-"]')
                            points = [int(charts.nth(i).get_attribute("data-points") or 0)
                                      for i in range(charts.count())]
                            return sum(p > 100 for p in points) >= 3

                        wait_for(full, 60, interval=1.0, what=f"{node}'s backfilled charts")
                    table = page.get_by_test_id("inference")
                    table.wait_for(timeout=60_000)
                    expected = {f"inference-{n}-{e}" for e, n in DEMO_ENGINES}

                    def generating() -> bool:
                        rows = table.locator('tr[data-testid^="inference-"]')
                        ids = {rows.nth(i).get_attribute("data-testid") for i in range(rows.count())}
                        return ids == expected and all(
                            _positive(table.get_by_test_id(r).locator("td").nth(TOKENS_COLUMN).inner_text())
                            for r in expected)

                    wait_for(generating, 90, interval=1.0, what="a row per engine with tokens/s in the inference table")
            finally:
                demo.send_signal(2)  # SIGINT: the demo stops its children and removes its directory
                try:
                    demo.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    demo.kill()
                    demo.wait()
                log.close()
            assert "backfilled 1 h of GPU history" in (d / "demo.log").read_text(errors="replace")


def _positive(text: str) -> bool:
    """True for a table cell holding a number above 0 (not a dash)."""
    try:
        return float(text.replace(",", "")) > 0
    except ValueError:
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/healthy", timeout=2) as resp:  # noqa: S310 - loopback test server
            return bool(resp.status == 200)
    except OSError:
        return False
