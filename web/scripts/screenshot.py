"""Refresh the README's screenshot of the live page: ``./dev.sh screenshot``.

Runs ``spark-exporter demo`` (two simulated GB10 nodes, the vLLM, llama.cpp and SGLang stand-ins, a real
Prometheus, the API with the page), waits until both nodes have figures, every history chart is drawn and the
Inference table has its three engines' rows, opens the page in Debian's headless Chromium (Playwright, no
browser download) 1280 px wide and writes a PNG of the whole page. Everything it starts is
stopped before it exits; exit 2 with one line when the page is not built or Chromium is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "spark_exporter" / "query" / "webui" / "index.html"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def overview(url: str) -> dict:
    with urllib.request.urlopen(f"{url}/api/v1/cluster/overview", timeout=5) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read(1 << 20))


def wait_ready(url: str, demo: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise SystemExit(f"screenshot: the demo exited with {demo.returncode}")
        try:
            if overview(url).get("nodesUp") == 2:
                return
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit("screenshot: the demo's nodes did not come up within the deadline")


def wait_busy(url: str, deadline: float) -> None:
    """Until the deadline, wait while the demo's Spark application sits between jobs (activeJobs 0), so
    the picture shows a running job; without Spark (activeJobs null) there is nothing to wait for."""
    while time.monotonic() < deadline:
        try:
            if overview(url).get("activeJobs") != 0:
                return
        except OSError:
            pass
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(REPO / "docs" / "command-center.png"))
    parser.add_argument("--settle", type=float, default=20.0, help="seconds of history to gather first")
    args = parser.parse_args()
    if not PAGE.is_file():
        print(f"screenshot: {PAGE} missing: build the page first (./dev.sh web)", file=sys.stderr)
        return 2
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("screenshot: Debian's chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "spark_exporter", "demo", f"--api-port={port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, demo, time.monotonic() + 120)
        time.sleep(args.settle)
        wait_busy(url, time.monotonic() + 60)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/")
            page.get_by_test_id("gpu-util").wait_for(timeout=30_000)
            page.locator("canvas").first.wait_for(timeout=30_000)
            # every node's four history charts drawn (the demo backfills an hour, so they are full)
            page.wait_for_function("document.querySelectorAll('.chart canvas').length >= 8", timeout=30_000)
            # the Inference table's row per engine the demo runs (vLLM, llama.cpp, SGLang)
            page.wait_for_function("document.querySelectorAll('tr[data-testid^=\"inference-\"]').length >= 3",
                                   timeout=60_000)
            page.wait_for_timeout(2000)
            page.screenshot(path=args.output, full_page=True)  # the node panels' charts sit below 800 px
            browser.close()
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    print(f"screenshot: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
