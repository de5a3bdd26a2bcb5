"""The Command Center page with a 64-node fleet: time from navigation to every node's row on screen.

Starts two simulated GB10 exporters, a real Prometheus scraping them as ``--nodes`` inventory nodes (each
name its own target, alternating between the two exporters, every 5 s), the API serving the built page,
and Debian's Chromium (Playwright). Once Prometheus has every node up, it opens the page ``--runs`` times
in fresh browser contexts and measures, from ``page.goto`` to the moment the node tiles hold one tile per
node with every name visible, the time in ms; it prints p50 and max (and writes them with ``--json``).

    .venv/bin/python bench/bench_page_fleet.py [--nodes 64] [--runs 10] [--json out.json]

The page must be built (``./dev.sh web``). The target (issue 24): 64 nodes render within 5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.procs import PYTHON, exporter, free_port, prometheus, start_process, tempdir, wait_for  # noqa: E402
from spark_exporter.prometheus.inventory import load_inventory  # noqa: E402
from spark_exporter.prometheus.promconfig import build_prometheus_config  # noqa: E402

ALL_VISIBLE = """(n) => {
  const links = [...document.querySelectorAll('[data-testid="node-table"] li.tile a')];
  return links.length === n && links.every((a) => { const r = a.getBoundingClientRect();
    return r.width > 0 && r.height > 0; });
}"""


def overview(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/v1/cluster/overview", timeout=10) as resp:  # noqa: S310 - loopback
        return dict(json.loads(resp.read(1 << 20)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    if not (ROOT / "spark_exporter" / "query" / "webui" / "index.html").is_file():
        print("bench_page_fleet: the page is not built: run ./dev.sh web", file=sys.stderr)
        return 2
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("bench_page_fleet: Debian's chromium is not installed", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with contextlib.ExitStack() as stack:
        exps = [stack.enter_context(exporter("--gpu.simulate=gb10", f"--gpu.seed={i + 1}")) for i in range(2)]
        work = stack.enter_context(tempdir("bench-fleet"))
        names = [f"fleet-{i + 1:02d}" for i in range(args.nodes)]
        (work / "inventory.yml").write_text(yaml.safe_dump(
            {"cluster": "fleet", "nodes": [{"name": n, "exporter": exps[i % 2].address} for i, n in enumerate(names)]}))
        config = build_prometheus_config(load_inventory(str(work / "inventory.yml")), [], scrape_interval="5s",
                                         evaluation_interval="5s")
        prom = stack.enter_context(prometheus(config))
        port = free_port()
        api = start_process("api", [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                                    f"--prometheus.url={prom.url}", f"--inventory={work / 'inventory.yml'}",
                                    "--api.rate-limit=0"], port, work, f"http://127.0.0.1:{port}/-/healthy")
        stack.callback(api.stop)
        wait_for(lambda: overview(api.url).get("nodesUp") == args.nodes, 90, interval=1.0, what="every node up")
        times: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                for _ in range(args.runs):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(api.url)
                    page.wait_for_function(ALL_VISIBLE, arg=args.nodes, timeout=60_000, polling=20)
                    times.append((time.perf_counter() - t0) * 1000)
                    context.close()
            finally:
                browser.close()
    result = {"nodes": args.nodes, "runs": args.runs, "p50_ms": round(statistics.median(times), 1),
              "max_ms": round(max(times), 1)}
    print(json.dumps(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
