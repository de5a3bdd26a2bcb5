"""TLS and basic auth from an exporter-toolkit web config file, against the real process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import bcrypt
import pytest

from helpers.webconfig import basic
from spark_exporter.http.auth import BasicAuth, Outcome, bcrypt_cost
from spark_exporter.http.webconfig import load_web_config
from spark_exporter.settings import ConfigError


class TestLoading:

    @pytest.mark.parametrize(("value", "warned"), [("true", True), ("false", False)])
    def test_http2_from_a_node_exporter_web_config_is_accepted(self, tmp_path: Path, value: str,
                                                               warned: bool) -> None:
        """exporter-toolkit's http2 key loads (HTTP/1.1 is served either way); true draws one warning."""
        wc = tmp_path / "web.yml"
        wc.write_text(f"http_server_config:\n  http2: {value}\n")
        loaded = load_web_config(str(wc))
        assert [("http2" in w and "HTTP/1.1" in w) for w in loaded.warnings] == ([True] if warned else [])

    @pytest.mark.parametrize(("content", "needle"), [
        ("tls_server_config:\n  cert_file: x.crt\n", "cert_file and key_file are both required"),
        ("tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n", "tls_server_config.cert_file': "),
        ("tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n", "x.crt: no such file"),
        ("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "tls_server_config.cipher_suites"),
        ("basic_auth: {}\n", "unknown key"),
        ("http_server_config:\n  headers:\n    Server: x\n", "header may not be set"),
        ("http_server_config:\n  http2: \"yes please\"\n", "http_server_config.http2"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: \"deny\\r\\nSet-Cookie: a=b\"\n", "single-line"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: [deny]\n", "single-line"),
        ("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n", "nosniff"),
        ("basic_auth_users:\n  alice: $2y$10$short\n", "malformed bcrypt hash"),
        ("basic_auth_users:\n  alice: $2b$31$vpgJrMjK45zrCxbakxyRvubA0iW3nkAEan2Nm7opf44r4lgxwXm0u\n",
         "bcrypt cost 31 is above 16"),
        ("tls_server_config:\n  cert_file: [a]\n  key_file: b\n", "must be a string"),
    ])
    def test_invalid_files_are_rejected_with_the_key(self, tmp_path: Path, content: str, needle: str) -> None:
        """Invalid or unsupported settings fail with an error naming the file and the key."""
        wc = tmp_path / "web.yml"
        wc.write_text(content)
        with pytest.raises(ConfigError) as exc:
            load_web_config(str(wc))
        assert str(wc) in str(exc.value) and needle in str(exc.value)


# mode -> outcome for (no certificate, a certificate from the configured CA, a self-signed one),
# as Go's crypto/tls gives them; None means the connection is refused.


def _hash(password: bytes, cost: int = 4) -> bytes:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost))


def basic_header(user: str, password: str) -> str:
    return basic(user, password)["Authorization"]


class TestBasicAuth:
    def test_unknown_user_costs_the_same_bcrypt_work(self) -> None:
        """An unknown user is checked against a dummy hash of the configured cost, like a wrong password."""
        auth = BasicAuth({"alice": _hash(b"pw", 5)})
        assert bcrypt_cost(auth._dummy) == 5  # noqa: SLF001 - the property under test
        assert asyncio.run(auth.check(basic_header("mallory", "pw"), "a"))[0] is Outcome.DENIED
        assert asyncio.run(auth.check(basic_header("alice", "wrong"), "b"))[0] is Outcome.DENIED
        assert auth.bcrypt_calls == 2

    def test_verified_credentials_skip_bcrypt_and_the_throttle(self) -> None:
        """Credentials verified once are answered from the cache even for a client that is throttled."""
        auth = BasicAuth({"alice": _hash(b"pw")}, failure_burst=2, failure_rate=0.001)

        async def scenario() -> list[Outcome]:
            out = [(await auth.check(basic_header("alice", "pw"), "10.0.0.1"))[0]]
            for _ in range(3):
                out.append((await auth.check(basic_header("alice", "bad"), "10.0.0.1"))[0])
            calls = auth.bcrypt_calls
            out.append((await auth.check(basic_header("alice", "pw"), "10.0.0.1"))[0])
            assert auth.bcrypt_calls == calls
            return out

        assert asyncio.run(scenario()) == [Outcome.OK, Outcome.DENIED, Outcome.DENIED, Outcome.THROTTLED,
                                           Outcome.OK]

    def test_bcrypt_runs_in_threads_at_most_two_at_once(self) -> None:
        """Twenty concurrent first-time checks run bcrypt off the event loop, never more than two at a time."""
        import threading

        auth = BasicAuth({"alice": _hash(b"pw", 6)}, failure_burst=100)
        loop_thread = threading.get_ident()
        running, peak, threads = 0, 0, set()
        lock = threading.Lock()
        real = auth._check  # noqa: SLF001 - instrumented to observe concurrency

        def counting(user: bytes, password: bytes) -> bool:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
                threads.add(threading.get_ident())
            try:
                return real(user, password)
            finally:
                with lock:
                    running -= 1

        auth._check = counting  # type: ignore[method-assign]  # noqa: SLF001

        async def scenario() -> list[Outcome]:
            checks = [auth.check(basic_header("alice", f"pw{i}"), f"10.0.0.{i}") for i in range(20)]
            return [o for o, _ in await asyncio.gather(*checks)]

        assert asyncio.run(scenario()) == [Outcome.DENIED] * 20
        assert 1 <= peak <= 2 and loop_thread not in threads

    @pytest.mark.parametrize("header", ["Basic \udcff\udcfe", "Basic w6k6w6k=", "Bearer abc", "Basic !!!", ""])
    def test_malformed_headers_are_denied_without_bcrypt(self, header: str) -> None:
        """Non-ASCII, non-Basic or undecodable Authorization headers are denied before any bcrypt work."""
        auth = BasicAuth({"alice": _hash(b"pw")})
        assert asyncio.run(auth.check(header, "c"))[0] is Outcome.DENIED
        assert auth.bcrypt_calls == (1 if header == "Basic w6k6w6k=" else 0)


