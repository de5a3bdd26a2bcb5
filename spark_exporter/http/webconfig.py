"""TLS, basic auth and response headers from a Prometheus exporter-toolkit web configuration file.

The file format is the one every official exporter reads with ``--web.config.file``::

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: ca.crt                          # optional
      min_version: TLS12                              # optional
      max_version: TLS13                              # optional
    http_server_config:
      headers: {X-Frame-Options: deny}                # optional
    basic_auth_users:
      alice: $2y$10$...                               # bcrypt hash

Relative paths are resolved against the file's directory, as exporter-toolkit does. Keys that
spark-exporter does not implement (``cipher_suites``, ``curve_preferences``, ...) are rejected with an
error rather than silently ignored. ``http_server_config.http2`` is accepted (exporter-toolkit's
default is true, so copied web configs carry it); true draws a warning, since only HTTP/1.1 is served.

``client_auth_type`` follows Go's crypto/tls:

==========================  ====================================================================
NoClientCert (default)      no certificate asked for; ``client_ca_file`` is then an error, as in
                            exporter-toolkit
RequestClientCert           refused at start-up (see below); use VerifyClientCertIfGiven
RequireAnyClientCert        refused at start-up (see below); use RequireAndVerifyClientCert
(alias RequireClientCert)
VerifyClientCertIfGiven     a certificate is optional; one that is sent must chain to
                            ``client_ca_file`` (the system roots without one, as in Go)
RequireAndVerifyClientCert  a certificate chaining to ``client_ca_file`` (or the system roots)
                            is required
==========================  ====================================================================

Go's two "accept any" modes ask for a client certificate and accept it without checking its chain.
Python's public ``ssl`` API cannot do that: a server's ``verify_mode`` either asks for no certificate
(``CERT_NONE``) or verifies the one it gets (``CERT_OPTIONAL``/``CERT_REQUIRED``), and there is no verify
callback. Rather than reach into OpenSSL behind the ``ssl`` module, these modes stop start-up (and
``--check-config``) with one line naming the verifying mode to use instead (:class:`ConfigError`).
"""

from __future__ import annotations

import hmac
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bcrypt

from ..settings import ConfigError, load_yaml_file
from .auth import BasicAuth, bcrypt_cost

# bcrypt work doubles with each cost step: cost 10 is about 60 ms here, 16 about 4 s, 31 about two days.
# A hash above this cost is refused at load, where checking it (and hashing the unknown-user dummy at the
# same cost) would otherwise hang start-up and --check-config, and every request would outlast a scrape.
MAX_BCRYPT_COST = 16
_TOP_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users"}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
_HTTP_KEYS = {"headers", "http2"}
# Go mode -> Python verify mode, for the modes Python's ssl can honour exactly.
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go modes that accept any client certificate without verifying it (Python's ssl cannot) -> what to use instead.
_ACCEPT_ANY = {"RequestClientCert": "VerifyClientCertIfGiven", "RequireAnyClientCert": "RequireAndVerifyClientCert",
               "RequireClientCert": "RequireAndVerifyClientCert"}
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# Headers exporter-toolkit lets users set (anything else is refused there too), with the values it
# accepts where it restricts them.
_ALLOWED_HEADERS: dict[str, frozenset[str] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": frozenset({"nosniff"}),
    "X-Frame-Options": frozenset({"deny", "sameorigin"}),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}


@dataclass
class WebConfig:
    """A loaded web config: the TLS context (None for plain HTTP), users, and extra response headers."""

    path: str | None = None
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)  # name -> bcrypt hash ($2b$ form)
    headers: dict[str, str] = field(default_factory=dict)
    client_auth_type: str = "NoClientCert"
    auth: BasicAuth | None = None
    #: What is allowed but weakens the config; ``--check-config`` prints each, start-up logs each.
    warnings: list[str] = field(default_factory=list)

    @property
    def tls(self) -> bool:
        """True when the web config has TLS (an SSL context)."""
        return self.ssl_context is not None


def _err(path: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"web config file {path}: key {key!r}: {msg}")


def tls_load_reason(error: OSError) -> str:
    """Why ssl could not load a certificate, key or CA file, in words: OpenSSL's reason without its
    ``[LIB: CODE]`` prefix and CPython's ``(_ssl.c:NNNN)`` source location, or the OS reason
    (``No such file or directory``). Used by the web config and the Prometheus client's TLS config."""
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", error.strerror or str(error))
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    if text == "PEM lib":  # OpenSSL's word for a file that is not PEM (or a key that is not a key)
        return "not a PEM certificate or key"
    return text or type(error).__name__


def load_web_config(path: str | None) -> WebConfig:
    """Load and validate a web config file; ``None`` gives plain HTTP with no auth. Raises ConfigError."""
    if not path:
        return WebConfig()
    data = load_yaml_file(path, "web config file")
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"web config file {path}: top level must be a mapping")
    for k in data:
        if k not in _TOP_KEYS:
            raise _err(path, str(k), "unknown key (expected tls_server_config, http_server_config, basic_auth_users)")
    base = os.path.dirname(os.path.abspath(path))
    wc = WebConfig(path=path)
    tls = data.get("tls_server_config")
    if tls is not None:
        wc.ssl_context, wc.client_auth_type = _tls_context(path, base, tls)
    wc.users = _users(path, data.get("basic_auth_users") or {})
    if wc.users:
        wc.auth = BasicAuth(wc.users)
        costs = sorted({bcrypt_cost(h) for h in wc.users.values()})
        if len(costs) > 1:
            # No one dummy hash can cost what every user's hash costs (see docs/security.md).
            wc.warnings.append(
                f"web config file {path}: basic_auth_users mixes bcrypt costs {', '.join(map(str, costs))}: an "
                "unknown user name is checked at the highest cost, so a user with a lower cost answers faster "
                "and user names can be told apart by timing; hash every password with the same cost")
    http = data.get("http_server_config") or {}
    wc.headers = _headers(path, http)
    if isinstance(http, Mapping) and "http2" in http:
        if not isinstance(http["http2"], bool):
            raise _err(path, "http_server_config.http2", "must be true or false")
        if http["http2"]:  # exporter-toolkit's default; a copied node_exporter web config often says so
            wc.warnings.append(
                f"web config file {path}: http_server_config.http2 is true but spark-exporter serves HTTP/1.1 "
                "only; clients use HTTP/1.1 (over TLS they negotiate it), as with exporter-toolkit's http2: false")
    return wc


def _users(path: str, users: Any) -> dict[str, bytes]:
    if not isinstance(users, Mapping):
        raise _err(path, "basic_auth_users", "must map user names to bcrypt hashes")
    out: dict[str, bytes] = {}
    for user, hashed in users.items():
        key = f"basic_auth_users.{user}"
        if not isinstance(user, str) or not user or ":" in user:
            raise _err(path, key, "a user name is a non-empty string without ':'")
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise _err(path, key, "must be a bcrypt hash ($2y$...)")
        norm = hashed.replace("$2y$", "$2b$", 1).encode("ascii", "replace")
        try:
            cost = bcrypt_cost(norm)
        except ValueError:
            raise _err(path, key, "malformed bcrypt hash") from None
        if cost > MAX_BCRYPT_COST:
            raise _err(path, key, f"bcrypt cost {cost} is above {MAX_BCRYPT_COST}: each check would take "
                       f"{2 ** (cost - 10) * 60 / 1000:g} s or more")
        try:
            bcrypt.checkpw(b"", norm)  # a malformed salt or digest fails here, not at the first request
        except ValueError:
            raise _err(path, key, "malformed bcrypt hash") from None
        out[user] = norm
    return out


def _headers(path: str, http: Any) -> dict[str, str]:
    if not isinstance(http, Mapping):
        raise _err(path, "http_server_config", "must be a mapping")
    for k in http:
        if k not in _HTTP_KEYS:
            raise _err(path, f"http_server_config.{k}", "unknown or unsupported key (spark-exporter serves HTTP/1.1)")
    headers = http.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise _err(path, "http_server_config.headers", "must be a mapping")
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = f"http_server_config.headers.{name}"
        if name not in _ALLOWED_HEADERS:
            raise _err(path, key, f"header may not be set (allowed: {', '.join(_ALLOWED_HEADERS)})")
        if not isinstance(value, str) or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise _err(path, key, "must be a single-line string")
        allowed = _ALLOWED_HEADERS[name]
        if allowed is not None and value.lower() not in allowed:
            raise _err(path, key, f"must be one of {', '.join(sorted(allowed))}")
        out[str(name)] = value
    return out


def _tls_context(path: str, base: str, tls: Any) -> tuple[ssl.SSLContext, str]:
    if not isinstance(tls, Mapping):
        raise _err(path, "tls_server_config", "must be a mapping")
    for k in tls:
        if k not in _TLS_KEYS:
            raise _err(path, f"tls_server_config.{k}", "unknown or unsupported key")
    for k, v in tls.items():
        if v is not None and not isinstance(v, str):
            raise _err(path, f"tls_server_config.{k}", f"must be a string, got {type(v).__name__}")

    def resolve(key: str) -> str | None:
        v = tls.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, str) or not v.isprintable():
            raise _err(path, f"tls_server_config.{key}", "must be a file path")
        full = v if os.path.isabs(v) else os.path.join(base, v)
        if os.path.exists(full) and not os.path.isfile(full):  # a FIFO would block the TLS library's read
            raise _err(path, f"tls_server_config.{key}", f"{full} is not a regular file")
        return full

    cert, key = resolve("cert_file"), resolve("key_file")
    if not cert or not key:
        raise _err(path, "tls_server_config", "cert_file and key_file are both required")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    versions = {"min_version": "TLS12", "max_version": "TLS13"}
    for vkey in versions:
        v = tls.get(vkey)
        if v is not None:
            if not isinstance(v, str) or v not in _TLS_VERSIONS:
                raise _err(path, f"tls_server_config.{vkey}", f"must be one of {', '.join(_TLS_VERSIONS)}")
            versions[vkey] = v
    lo, hi = _TLS_VERSIONS[versions["min_version"]], _TLS_VERSIONS[versions["max_version"]]
    if lo > hi:
        raise _err(path, "tls_server_config.min_version", "is above max_version")
    ctx.minimum_version, ctx.maximum_version = lo, hi
    for k, f in (("cert_file", cert), ("key_file", key)):
        if not os.path.exists(f):  # ssl's own error would not say which of the two files is missing
            raise _err(path, f"tls_server_config.{k}", f"{f}: no such file")
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise _err(path, "tls_server_config.cert_file", f"cannot load certificate/key: {tls_load_reason(e)}") from None
    auth = tls.get("client_auth_type") or "NoClientCert"
    if auth in _ACCEPT_ANY:
        raise _err(path, "tls_server_config.client_auth_type",
                   f"{auth} is not supported: it accepts a client certificate without verifying it, which "
                   f"Python's ssl module cannot do; use {_ACCEPT_ANY[auth]} with client_ca_file instead")
    if auth not in _CLIENT_AUTH:
        raise _err(path, "tls_server_config.client_auth_type",
                   f"must be one of {', '.join(_CLIENT_AUTH)}")
    ca = resolve("client_ca_file")
    if ca and auth == "NoClientCert":
        # exporter-toolkit refuses this too: a CA with no policy to use it is a mistake.
        raise _err(path, "tls_server_config.client_ca_file", "set without a client_auth_type that uses it")
    if ca:
        try:
            ctx.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as e:
            raise _err(path, "tls_server_config.client_ca_file", f"cannot load: {tls_load_reason(e)}") from None
    elif auth != "NoClientCert":
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # Go verifies against the host's roots then
    ctx.verify_mode = _CLIENT_AUTH[auth]
    return ctx, auth


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two secrets in time independent of where they differ (non-ASCII safe)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape"))
