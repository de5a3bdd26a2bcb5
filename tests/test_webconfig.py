"""TLS and basic auth from an exporter-toolkit web config file, against the real process."""

from __future__ import annotations

import base64
import ssl
import subprocess
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from procs import exporter, http_get, wait_for
from spark_exporter.http.webconfig import load_web_config
from spark_exporter.settings import ConfigError


def make_cert(d: Path) -> tuple[Path, Path]:
    cert, key = d / "server.crt", d / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class TestLoading:
    def test_relative_paths_resolve_against_the_file(self, tmp_path: Path) -> None:
        """cert_file and key_file are resolved relative to the web config file, as exporter-toolkit does."""
        make_cert(tmp_path)
        wc = tmp_path / "web.yml"
        wc.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        assert load_web_config(str(wc)).tls

    @pytest.mark.parametrize(("content", "needle"), [
        ("tls_server_config:\n  cert_file: x.crt\n", "cert_file and key_file are both required"),
        ("tls_server_config:\n  cert_file: x.crt\n  key_file: x.key\n", "cannot load"),
        ("tls_server_config:\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "tls_server_config.cipher_suites"),
        ("basic_auth: {}\n", "unknown key"),
        ("http_server_config:\n  headers:\n    Server: x\n", "header may not be set"),
    ])
    def test_invalid_files_are_rejected_with_the_key(self, tmp_path: Path, content: str, needle: str) -> None:
        """Invalid or unsupported settings fail with an error naming the file and the key."""
        wc = tmp_path / "web.yml"
        wc.write_text(content)
        with pytest.raises(ConfigError) as exc:
            load_web_config(str(wc))
        assert str(wc) in str(exc.value) and needle in str(exc.value)


class TestServing:
    def test_basic_auth_and_tls(self, tmp_path: Path) -> None:
        """With TLS and basic_auth_users, /metrics needs HTTPS and the right password; others get 401."""
        cert, _ = make_cert(tmp_path)
        hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
        wc = tmp_path / "web.yml"
        wc.write_text(f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                      f"basic_auth_users:\n  prometheus: '{hashed}'\n"
                      "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
        ctx = ssl.create_default_context(cafile=str(cert))
        with exporter(f"--web.config.file={wc}", ready=False) as p:
            url = f"https://127.0.0.1:{p.port}"

            def get(path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
                req = urllib.request.Request(url + path, headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
                        return r.status, r.read(), dict(r.headers)
                except urllib.error.HTTPError as e:
                    return e.code, e.read(), dict(e.headers)

            wait_for(lambda: get("/-/ready", basic("prometheus", "s3cret"))[0] == 200, 30, what="ready over TLS")
            status, body, headers = get("/metrics", basic("prometheus", "s3cret"))
            assert status == 200 and b"spark_exporter_collector_success" in body
            assert headers.get("X-Frame-Options") == "deny"
            assert get("/metrics", basic("prometheus", "wrong"))[0] == 401
            assert get("/metrics", basic("nobody", "s3cret"))[0] == 401
            status, body, headers = get("/metrics", {})
            assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Basic")
            with pytest.raises(Exception):  # noqa: B017 - plain HTTP must not be served on a TLS port
                http_get(f"http://127.0.0.1:{p.port}/metrics", timeout=3)
