"""Scrape latency during a flood of wrong basic-auth passwords (issue 11, item 4).

Starts the exporter with one bcrypt user (cost 10, exporter-toolkit's usual) and measures a scraper
with valid credentials over a keep-alive connection, alternating phases without and with
--clients flooding clients that send wrong passwords and unknown users as fast as they are answered
(all from 127.0.0.1, the scraper's own address). Reports p50/p99 per phase and their ratio, and how
the flood was answered.

    .venv/bin/python bench/bench_auth_flood.py [--clients 100] [--samples 200] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import bcrypt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from helpers.procs import PYTHON, free_port, http_get, start_process, tempdir, wait_for  # noqa: E402


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def scrape_latencies(url: str, samples: int) -> list[float]:
    out = []
    async with aiohttp.ClientSession(headers=basic("prometheus", "s3cret")) as session:
        for _ in range(samples):
            t0 = time.perf_counter()
            async with session.get(url) as r:
                await r.read()
                assert r.status == 200, r.status
            out.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.01)
    return out


async def phase(url: str, samples: int, clients: int, answers: Counter[int]) -> list[float]:
    stop = asyncio.Event()

    async def attacker(n: int) -> None:
        creds = [basic("prometheus", f"guess{n}"), basic(f"user{n}", "s3cret")]
        async with aiohttp.ClientSession() as session:
            i = 0
            while not stop.is_set():
                try:
                    async with session.get(url, headers=creds[i % 2]) as r:
                        await r.read()
                        answers[r.status] += 1
                except aiohttp.ClientError:
                    answers[0] += 1
                i += 1

    tasks = [asyncio.create_task(attacker(n)) for n in range(clients)]
    if clients:
        await asyncio.sleep(1)  # let the flood build up
    try:
        return await scrape_latencies(url, samples)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    port = free_port()
    with tempdir("bench-auth") as d:
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=10)).decode()
        (d / "web.yml").write_text(f"basic_auth_users:\n  prometheus: '{hashed}'\n")
        argv = [PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{port}",
                f"--web.config.file={d / 'web.yml'}", "--no-collector.gpu"]
        p = start_process("spark-exporter", argv, port, d, None)
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_for(lambda: http_get(url, headers=basic("prometheus", "s3cret"))[0] == 200, 30, what="exporter")
            quiet: list[float] = []
            flood: list[float] = []
            answers: Counter[int] = Counter()
            for _ in range(args.rounds):
                quiet += asyncio.run(phase(url, args.samples, 0, answers))
                flood += asyncio.run(phase(url, args.samples, args.clients, answers))
        finally:
            p.stop()
    result = {
        "clients": args.clients,
        "scrapes_per_phase": args.samples * args.rounds,
        "quiet_p50_ms": round(statistics.median(quiet), 3), "quiet_p99_ms": round(pct(quiet, 99), 3),
        "flood_p50_ms": round(statistics.median(flood), 3), "flood_p99_ms": round(pct(flood, 99), 3),
        "p50_ratio": round(statistics.median(flood) / statistics.median(quiet), 2),
        "flood_answers": dict(sorted(answers.items())),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
