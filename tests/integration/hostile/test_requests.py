"""Request-level attacks on the real exporter and API: malformed requests, hostile headers, signals."""

from __future__ import annotations

import gzip
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.procs import Proc, exporter, http_get, tempdir
from helpers.rawhttp import Answer, api, bcrypt_user_file, exchange, get, log_size, wait_until

SIM = ("--collect.min-age=1s",)

# Other HTTP versions are refused with a JSON 505 or 400 before aiohttp parses them:
# tests/integration/hostile/test_http_edges.py.
MALFORMED = [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",  # a TLS hello on the HTTP port
    b"GET\r\n\r\n",
    b"G\x00ET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"b" * 10_000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n",
]


def assert_shared_headers(a: Answer) -> None:
    assert a.headers.get("Server") == "spark-exporter"
    assert a.headers.get("X-Frame-Options") == "deny"


class TestMalformedRequests:
    def test_malformed_requests_get_400_and_one_log_line(self, tmp_path: Path) -> None:
        """Every malformed request gets aiohttp's own 400 (there is no public hook to shape it) and the
        exporter keeps serving; the log gains one line at most, never a traceback."""
        wc = tmp_path / "web.yml"
        wc.write_text("http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
        with exporter(*SIM, f"--web.config.file={wc}") as p:
            before = log_size(p)
            for _ in range(5):
                for request in MALFORMED:
                    a = exchange(p.port, request)
                    assert a.status == 400, request[:40]
            assert_shared_headers(get(p.port, "/metrics"))
            log = p.log()
            assert log.count("http_protocol_error") <= 1 and "Traceback" not in log
            assert log_size(p) - before < 1000


class TestHeadersOnEveryResponse:
    def test_configured_headers_and_a_version_free_server_header(self, tmp_path: Path) -> None:
        """200, 401, 404, 405 and 429 answers all carry the web config's headers and no version in Server."""
        wc = bcrypt_user_file(tmp_path, "prom", "pw", cost=4)
        good = {"Authorization": "Basic cHJvbTpwdw=="}  # prom:pw
        with exporter(*SIM, f"--web.config.file={wc}", ready=False) as p:
            assert wait_until(lambda: http_get(p.url + "/-/ready", headers=good)[0] == 200, 30)
            answers = {
                200: get(p.port, "/metrics", good),
                401: get(p.port, "/metrics"),
                404: get(p.port, "/nope", good),
                405: exchange(p.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvbTpwdw==\r\n"
                                      b"Content-Length: 0\r\nConnection: close\r\n\r\n"),
            }
            bad = {"Authorization": "Basic cHJvbTp3cm9uZw=="}  # prom:wrong
            answers[429] = next(a for a in (get(p.port, "/metrics", bad) for _ in range(30)) if a.status == 429)
            for status, a in answers.items():
                assert a.status == status
                assert_shared_headers(a)
                if status != 200:
                    assert a.json()["status"] == "error" and a.json()["errorType"]
            assert "Retry-After" in answers[429].headers


class TestNonAsciiAuthorization:
    def test_exporter_basic_with_high_bytes_is_401(self, tmp_path: Path) -> None:
        """An exporter Authorization: Basic header with bytes above 0x7f is a JSON 401, without a traceback."""
        wc = bcrypt_user_file(tmp_path, "prom", "pw", cost=4)
        with exporter(*SIM, f"--web.config.file={wc}", ready=False) as p:
            assert wait_until(lambda: http_get(p.url + "/-/healthy")[0] == 401, 30)
            for value in (b"Basic \xff\xfe\xfd", b"Basic cHJvbTpw\xe9", b"\xc3\xa9 abc"):
                a = exchange(p.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                     b"Authorization: " + value + b"\r\n\r\n")
                assert a.status == 401 and a.json()["errorType"] == "unauthorized"
            assert "Traceback" not in p.log()

    def test_api_bearer_with_high_bytes_is_401(self) -> None:
        """An API Authorization: Bearer header with bytes above 0x7f is a JSON 401, without a traceback."""
        with tempdir("token") as d:
            (d / "token").write_text("0123456789abcdef0123\n")
            with api(f"--api.token-file={d / 'token'}") as p:
                for value in (b"Bearer \xff\xfe", b"Bearer 0123456789abcdef012\xe9"):
                    a = exchange(p.port, b"GET /api/v1/nodes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                         b"Authorization: " + value + b"\r\n\r\n")
                    assert a.status == 401 and a.json()["errorType"] == "unauthorized"
                assert "Traceback" not in p.log()


class TestSighup:
    def test_exporter_and_api_log_and_ignore_sighup(self) -> None:
        """SIGHUP is logged and ignored: both processes keep serving."""
        with exporter(*SIM) as e, api() as a:
            for p in (e, a):
                p.popen.send_signal(signal.SIGHUP)
            time.sleep(1)
            for p in (e, a):
                assert p.alive(), p.log()
                assert http_get(p.url + "/-/healthy")[0] == 200
                assert "sighup_ignored" in p.log()


@pytest.fixture(scope="class")
def one_exporter() -> Iterator[Proc]:
    with exporter(*SIM) as p:
        yield p


class TestAcceptEncoding:
    @pytest.mark.parametrize(("header", "gzipped"), [
        ("gzip", True), ("gzip;q=0.000", False), ("gzip; q=0", False), ("gzip;q=0.0", False),
        ("gzip;q=-1", True), ("gzip;q=abc", True), ("gzip;q=0.001", True), ("*;q=0", False), ("*", True),
        ("identity", False), ("gzip;q=0, *", False),
    ])
    def test_gzip_only_when_accepted(self, one_exporter: Proc, header: str, gzipped: bool) -> None:
        """A q of 0 refuses gzip; a malformed q counts as absent (so gzip is accepted)."""
        status, body, headers = http_get(one_exporter.url + "/metrics", headers={"Accept-Encoding": header})
        assert status == 200 and (headers.get("Content-Encoding") == "gzip") == gzipped
        text = gzip.decompress(body) if gzipped else body
        assert b"spark_exporter_collector_success" in text


class TestApiRateLimit:
    def test_healthy_is_exempt_from_the_rate_limit(self) -> None:
        """/-/healthy answers 200 however often it is asked, while the API itself answers 429."""
        with api("--api.rate-limit=0.1", "--api.rate-burst=1") as p:
            assert all(get(p.port, "/-/healthy").status == 200 for _ in range(30))
            answers = [get(p.port, "/api/v1/nodes") for _ in range(3)]
            limited = [a for a in answers if a.status == 429]
            assert limited and limited[0].json()["errorType"] == "rate_limited"
            assert limited[0].headers.get("Server") == "spark-exporter"
