"""The web config file served by the real exporter: TLS, client certificates, basic auth and relative paths."""

from __future__ import annotations

import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path

import bcrypt
import pytest

from helpers.procs import PYTHON, exporter, free_port, http_get, wait_for
from helpers.webconfig import basic
from spark_exporter.http.webconfig import load_web_config
from spark_exporter.settings import ConfigError


def make_cert(d: Path) -> tuple[Path, Path]:
    cert, key = d / "server.crt", d / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def make_ca(d: Path) -> dict[str, Path]:
    """A private CA, a server certificate and a client certificate it signed, and a self-signed client."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        (d / f"{name}.ext").write_text(ext)
        run("req", *ec, "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    run("req", "-x509", *ec, "-days", "1", "-subj", "/CN=rogue", "-addext", "extendedKeyUsage=clientAuth",
        "-keyout", "rogue.key", "-out", "rogue.crt")
    return {n: d / n for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key",
                               "rogue.crt", "rogue.key")}


def tls_status(port: int, ca: Path, cert: tuple[Path, Path] | None) -> int | None:
    """GET /-/healthy over TLS with an optional client certificate; None if the server refused it."""
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except (ssl.SSLError, ConnectionError):
        return None
    if not data:  # closed after the handshake (TLS 1.3 checks the client certificate then)
        return None
    return int(data.split(b" ", 2)[1])


CLIENT_AUTH_MODES = {
    "NoClientCert": (200, 200, 200),
    "VerifyClientCertIfGiven": (200, 200, None),
    "RequireAndVerifyClientCert": (None, 200, None),
}


class TestLoading:
    def test_relative_paths_resolve_against_the_file(self, tmp_path: Path) -> None:
        """cert_file and key_file are resolved relative to the web config file, as exporter-toolkit does."""
        make_cert(tmp_path)
        wc = tmp_path / "web.yml"
        wc.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n")
        assert load_web_config(str(wc)).tls

    @pytest.mark.parametrize(("cert", "key", "ca", "wanted"), [
        ("garbage", "garbage", None, "'tls_server_config.cert_file': cannot load certificate/key: not a PEM "
         "certificate or key"),
        ("server.crt", "other.key", None,
         "'tls_server_config.cert_file': cannot load certificate/key: key values mismatch"),
        ("server.crt", "server.key", "garbage",
         "'tls_server_config.client_ca_file': cannot load: no certificate or crl found"),
    ])
    def test_unloadable_tls_files_are_named_in_words(self, tmp_path: Path, cert: str, key: str, ca: str | None,
                                                     wanted: str) -> None:
        """A certificate, key or CA that ssl cannot load is one line ending in OpenSSL's reason in words: no
        '[X509: ...]' or '[SSL]' code and no CPython source location '(_ssl.c:NNNN)'."""
        make_cert(tmp_path)  # server.crt, server.key
        subprocess.run(["openssl", "genrsa", "-out", str(tmp_path / "other.key"), "2048"], check=True,
                       capture_output=True)
        (tmp_path / "garbage").write_text("not a certificate\n")
        extra = f"  client_ca_file: {ca}\n  client_auth_type: RequireAndVerifyClientCert\n" if ca else ""
        wc = tmp_path / "web.yml"
        wc.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n{extra}")
        with pytest.raises(ConfigError) as exc:
            load_web_config(str(wc))
        assert str(exc.value) == f"web config file {wc}: key {wanted}"



class TestClientAuth:
    @pytest.mark.parametrize("mode", list(CLIENT_AUTH_MODES))
    def test_mode_behaves_as_in_go(self, tmp_path: Path, mode: str) -> None:
        """Each client_auth_type accepts and refuses the same client certificates as Go."""
        f = make_ca(tmp_path)
        ca_line = "  client_ca_file: ca.crt\n" if "Verify" in mode else ""
        wc = tmp_path / "web.yml"
        wc.write_text(f"tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                      f"  client_auth_type: {mode}\n{ca_line}")
        with exporter(f"--web.config.file={wc}", ready=False) as p:
            good = (f["client.crt"], f["client.key"])
            wait_for(lambda: tls_status(p.port, f["ca.crt"], good) == 200, 30, what="TLS exporter")
            got = tuple(tls_status(p.port, f["ca.crt"], c)
                        for c in (None, good, (f["rogue.crt"], f["rogue.key"])))
            assert got == CLIENT_AUTH_MODES[mode]

    def test_an_unknown_mode_is_refused_at_start(self, tmp_path: Path) -> None:
        """An unknown client_auth_type stops start-up with one line naming the key, exit 2."""
        make_ca(tmp_path)
        wc = tmp_path / "web.yml"
        wc.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                      "  client_auth_type: VerifyEverything\n")
        r = subprocess.run([PYTHON, "-m", "spark_exporter", f"--web.config.file={wc}",
                            f"--web.listen-address=127.0.0.1:{free_port()}"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "client_auth_type" in r.stderr

    @pytest.mark.parametrize(("mode", "instead"), [("RequestClientCert", "VerifyClientCertIfGiven"),
                                                   ("RequireAnyClientCert", "RequireAndVerifyClientCert"),
                                                   ("RequireClientCert", "RequireAndVerifyClientCert")])
    def test_accept_any_modes_are_refused_at_start(self, tmp_path: Path, mode: str, instead: str) -> None:
        """Go's accept-any-certificate modes, which Python's ssl cannot honour, stop start-up with one line
        saying why and which verifying mode to use instead, exit 2."""
        make_ca(tmp_path)
        wc = tmp_path / "web.yml"
        wc.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                      f"  client_auth_type: {mode}\n")
        r = subprocess.run([PYTHON, "-m", "spark_exporter", f"--web.config.file={wc}",
                            f"--web.listen-address=127.0.0.1:{free_port()}"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and mode in lines[0] and "without verifying" in lines[0]
        assert f"use {instead}" in lines[0]

    def test_ca_without_a_policy_is_refused(self, tmp_path: Path) -> None:
        """client_ca_file with NoClientCert is refused, as exporter-toolkit refuses it."""
        make_ca(tmp_path)
        wc = tmp_path / "web.yml"
        wc.write_text("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                      "  client_ca_file: ca.crt\n")
        with pytest.raises(ConfigError, match="client_ca_file"):
            load_web_config(str(wc))


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
