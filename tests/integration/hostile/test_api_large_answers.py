"""Many large upstream answers at once against the real API: one memory budget for all of them."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from helpers.procs import http_get, tempdir
from helpers.procstat import peak_rss_bytes
from helpers.rawhttp import api
from helpers.upstream import StandIn

REQUESTS = 17  # each for a different node, so no cache or coalescing shares an answer
ANSWER_BYTES = 16_000_000  # valid JSON, just under the 16 MiB per-answer cap
PEAK_LIMIT = 300 << 20  # bytes


def large_vector() -> bytes:
    """A valid instant vector of about ANSWER_BYTES of ``up`` samples (no series the rollups use)."""
    one = '{"metric":{"__name__":"up","job":"j%d","instance":"10.0.%d.%d:9100"},"value":[1700000000,"1"]}'
    parts, size, i = [], 0, 0
    while size < ANSWER_BYTES - 200:
        part = one % (i, i // 250 % 250, i % 250)
        parts.append(part)
        size += len(part) + 1
        i += 1
    return ('{"status":"success","data":{"resultType":"vector","result":[' + ",".join(parts) + "]}}").encode()


def test_concurrent_large_answers_share_one_budget() -> None:
    """17 concurrent requests, each answered with a 16 MB vector: every answer is 200 or a 503 with
    Retry-After, and the API's peak RSS stays below 300 MB."""
    body = large_vector()
    assert ANSWER_BYTES - 300 < len(body) <= ANSWER_BYTES
    stand_in = StandIn(lambda path, params: body)
    with tempdir("budget") as d:
        inv = Path(d) / "inventory.yml"
        nodes = [{"name": f"n{i}", "exporter": f"127.0.0.1:{9000 + i}"} for i in range(REQUESTS)]
        inv.write_text(yaml.safe_dump({"cluster": "c", "nodes": nodes}))
        try:
            with api(f"--prometheus.url={stand_in.url}", f"--inventory={inv}", "--api.rate-limit=0",
                     "--api.cache-ttl=0s", "--prometheus.timeout=20s") as p:
                def ask(i: int) -> tuple[int, bytes, dict[str, str]]:
                    return http_get(f"{p.url}/api/v1/nodes/n{i}/gpu", timeout=60)

                with ThreadPoolExecutor(REQUESTS) as pool:
                    answers = list(pool.map(ask, range(REQUESTS)))
                peak = peak_rss_bytes(p.popen.pid)
                assert http_get(p.url + "/-/healthy")[0] == 200
                log = p.log()
        finally:
            stand_in.close()
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    for status, raw, headers in answers:
        doc = json.loads(raw)
        if status == 503:
            assert doc["errorType"] == "busy" and int(headers["Retry-After"]) >= 1
    assert peak < PEAK_LIMIT, f"peak RSS {peak >> 20} MiB"
    assert "Traceback" not in log
