"""A flood of wrong basic-auth passwords against the real exporter while a scraper keeps scraping."""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from pathlib import Path

from helpers.procs import exporter, http_get
from helpers.rawhttp import bcrypt_user_file, get, wait_until


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class TestBcryptFlood:
    def test_scrapes_succeed_and_the_flood_is_throttled(self, tmp_path: Path) -> None:
        """During a wrong-password flood from the scraper's own address, every scrape gets 200 and the flood 401/429."""
        wc = bcrypt_user_file(tmp_path, "prometheus", "s3cret", cost=10)
        good = basic("prometheus", "s3cret")
        with exporter("--collect.min-age=1s", f"--web.config.file={wc}", ready=False) as p:
            assert wait_until(lambda: http_get(p.url + "/-/ready", headers=good)[0] == 200, 30)
            flood: Counter[int] = Counter()
            stop = threading.Event()

            def attacker(n: int) -> None:
                creds = [basic("prometheus", f"guess{n}"), basic(f"nobody{n}", "s3cret")]
                i = 0
                while not stop.is_set():
                    try:
                        flood[get(p.port, "/metrics", creds[i % 2]).status] += 1
                    except OSError:
                        flood[0] += 1
                    i += 1

            threads = [threading.Thread(target=attacker, args=(n,), daemon=True) for n in range(12)]
            for t in threads:
                t.start()
            scrapes = []
            try:
                end = time.monotonic() + 4
                while time.monotonic() < end:
                    scrapes.append(http_get(p.url + "/metrics", headers=good, timeout=10)[0])
            finally:
                stop.set()
                for t in threads:
                    t.join(15)
            assert scrapes and set(scrapes) == {200}
            assert set(flood) <= {401, 429} and flood[429] > 0
            assert "Traceback" not in p.log()
