"""``--prometheus.http-config-file``: Prometheus' HTTP client configuration, loaded and used against a real
Prometheus protected by its own ``--web.config.file`` (basic auth; TLS from a private CA made by openssl,
with a required client certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from helpers.api import api
from helpers.httpconfig import PASSWORD, USER, write_config
from helpers.procs import PYTHON, Proc, free_port, http_get, require_binary, start_process, tempdir, wait_for
from spark_exporter.query.client import (
    AuthenticationFailed,
    BadResponse,
    PrometheusClient,
    PrometheusUnavailable,
)
from spark_exporter.query.httpconfig import HttpClientConfig, load_http_config

SERVER_NAME = "prometheus.test"  # the only name in the server certificate: 127.0.0.1 is not


def openssl(*args: str) -> None:
    subprocess.run([require_binary("openssl"), *args], check=True, capture_output=True)


def make_pki(d: Path) -> None:
    """A private CA, a server certificate for SERVER_NAME and a client certificate, all signed by it."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, ext in (("server", f"subjectAltName=DNS:{SERVER_NAME}\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"))
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"),
                "-CAcreateserial", "-days", "1", "-extfile", str(d / f"{name}.ext"), "-out", str(d / f"{name}.pem"))


@contextlib.contextmanager
def protected_prometheus(web_config: dict[str, Any], scheme: str) -> Iterator[Proc]:
    """A real Prometheus behind ``--web.config.file``; ready once it answers 401 to an anonymous query."""
    binary = require_binary("prometheus")
    port = free_port()
    with tempdir("prometheus-protected") as d:
        (d / "prometheus.yml").write_text(yaml.safe_dump({"global": {"scrape_interval": "15s"}}))
        (d / "web.yml").write_text(yaml.safe_dump(web_config))
        argv = [binary, f"--config.file={d / 'prometheus.yml'}", f"--storage.tsdb.path={d / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={d / 'web.yml'}"]
        proc = start_process("prometheus", argv, port, d, None)
        try:
            if scheme == "http":
                wait_for(lambda: http_get(f"{proc.url}/-/ready", timeout=2)[0] == 401, 60, what="prometheus up")
            else:
                wait_for(lambda: "TLS" in proc.log() or "Listening" in proc.log() or "listening" in proc.log(),
                         60, what="prometheus listening")
            yield proc
        finally:
            proc.stop()


def users() -> dict[str, str]:
    return {USER: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()}


@pytest.fixture(scope="module")
def pki() -> Iterator[Path]:
    with tempdir("pki") as d:
        make_pki(d)
        yield d


@pytest.fixture(scope="module")
def basic_prom() -> Iterator[Proc]:
    with protected_prometheus({"basic_auth_users": users()}, "http") as p:
        yield p


@pytest.fixture(scope="module")
def tls_prom(pki: Path) -> Iterator[Proc]:
    web = {
        "tls_server_config": {
            "cert_file": str(pki / "server.pem"),
            "key_file": str(pki / "server.key"),
            "client_auth_type": "RequireAndVerifyClientCert",
            "client_ca_file": str(pki / "ca.pem"),
        },
        "basic_auth_users": users(),
    }
    with protected_prometheus(web, "https") as p:
        yield p


def query(url: str, cfg: HttpClientConfig | None) -> float | None:
    async def go() -> float | None:
        async with PrometheusClient(url, http_config=cfg, retries=0) as c:
            return (await c.query("vector(42)")).samples[0].value

    return asyncio.run(go())


class TestBasicAuth:
    def test_password_file_authenticates(self, basic_prom: Proc) -> None:
        """basic_auth with password_file (relative to the config file) answers the query."""
        with tempdir("httpcfg") as d:
            (d / "secret").write_text(PASSWORD + "\n")
            cfg = load_http_config(write_config(d, {"basic_auth": {"username": USER, "password_file": "secret"}}))
            assert query(basic_prom.url, cfg) == 42.0

    def test_inline_password_authenticates(self, basic_prom: Proc) -> None:
        """basic_auth with an inline password answers the query."""
        with tempdir("httpcfg") as d:
            cfg = load_http_config(write_config(d, {"basic_auth": {"username": USER, "password": PASSWORD}}))
            assert query(basic_prom.url, cfg) == 42.0

    @pytest.mark.parametrize("cfg", [None, {"basic_auth": {"username": USER, "password": "wrong"}}])
    def test_missing_or_wrong_credentials_fail_authentication(self, basic_prom: Proc, cfg: Any) -> None:
        """Without credentials or with a wrong password the client raises AuthenticationFailed (a BadResponse)."""
        with tempdir("httpcfg") as d:
            loaded = load_http_config(write_config(d, cfg)) if cfg else None
            with pytest.raises(AuthenticationFailed, match="authentication failed"):
                query(basic_prom.url, loaded)
        assert issubclass(AuthenticationFailed, BadResponse)

    def test_api_answers_502_saying_authentication_failed(self, basic_prom: Proc) -> None:
        """The API in front of a Prometheus that refuses it answers 502 JSON naming the authentication failure."""
        with api("--api.rate-limit=0", prometheus_url=basic_prom.url) as p:
            status, body, _ = http_get(p.url + "/api/v1/cluster/overview", timeout=15)
        doc = json.loads(body)
        assert status == 502
        assert doc["status"] == "error" and doc["errorType"] == "bad_upstream_response"
        assert "authentication failed" in doc["error"] and PASSWORD not in doc["error"]

    def test_api_with_the_flag_authenticates(self, basic_prom: Proc) -> None:
        """`spark-exporter api --prometheus.http-config-file` authenticates and answers the overview with 200."""
        with tempdir("httpcfg") as d:
            (d / "secret").write_text(PASSWORD + "\n")
            path = write_config(d, {"basic_auth": {"username": USER, "password_file": "secret"}})
            with api("--api.rate-limit=0", f"--prometheus.http-config-file={path}",
                     prometheus_url=basic_prom.url) as p:
                status, body, _ = http_get(p.url + "/api/v1/cluster/overview", timeout=15)
        assert status == 200, body
        assert json.loads(body)["nodesTotal"] is not None or "nodesTotal" in json.loads(body)["missing"]

    def test_query_cli_with_the_flag_authenticates_and_check_config_hides_secrets(self, basic_prom: Proc) -> None:
        """`spark-exporter query` reads through the flag; --check-config names the file, never the password."""
        with tempdir("httpcfg") as d:
            path = write_config(d, {"basic_auth": {"username": USER, "password": PASSWORD}})
            base = [PYTHON, "-m", "spark_exporter", "query", f"--prometheus.url={basic_prom.url}",
                    f"--prometheus.http-config-file={path}"]
            ok = subprocess.run([*base, "--format=json", "overview"], capture_output=True, text=True, timeout=60)
            shown = subprocess.run([*base, "--check-config"], capture_output=True, text=True, timeout=60)
        assert ok.returncode == 0, ok.stderr
        assert "timestamp" in json.loads(ok.stdout)
        assert shown.returncode == 0 and f"prometheus.http-config-file={path}" in shown.stdout
        assert PASSWORD not in shown.stdout + shown.stderr + ok.stderr


class TestTls:
    def config(self, pki: Path, d: Path, **tls: Any) -> HttpClientConfig:
        base = {"cert_file": str(pki / "client.pem"), "key_file": str(pki / "client.key"), **tls}
        return load_http_config(
            write_config(d, {"basic_auth": {"username": USER, "password": PASSWORD}, "tls_config": base})
        )

    def test_private_ca_with_server_name_and_client_certificate(self, tls_prom: Proc, pki: Path) -> None:
        """ca_file, server_name and a client certificate reach a Prometheus that requires all three."""
        with tempdir("httpcfg") as d:
            cfg = self.config(pki, d, ca_file=str(pki / "ca.pem"), server_name=SERVER_NAME)
            assert query(f"https://127.0.0.1:{tls_prom.port}", cfg) == 42.0

    def test_unknown_ca_is_refused(self, tls_prom: Proc, pki: Path) -> None:
        """Without ca_file the private CA is not trusted and the client cannot reach Prometheus."""
        with tempdir("httpcfg") as d:
            cfg = self.config(pki, d, server_name=SERVER_NAME)
            with pytest.raises(PrometheusUnavailable, match="cannot reach"):
                query(f"https://127.0.0.1:{tls_prom.port}", cfg)

    def test_name_mismatch_is_refused(self, tls_prom: Proc, pki: Path) -> None:
        """Without server_name the certificate does not match 127.0.0.1 and the connection is refused."""
        with tempdir("httpcfg") as d:
            cfg = self.config(pki, d, ca_file=str(pki / "ca.pem"))
            with pytest.raises(PrometheusUnavailable):
                query(f"https://127.0.0.1:{tls_prom.port}", cfg)

    def test_insecure_skip_verify(self, tls_prom: Proc, pki: Path) -> None:
        """insecure_skip_verify accepts the certificate without a CA or a matching name."""
        with tempdir("httpcfg") as d:
            cfg = self.config(pki, d, insecure_skip_verify=True)
            assert query(f"https://127.0.0.1:{tls_prom.port}", cfg) == 42.0


