"""TLS and basic auth from a Prometheus exporter-toolkit web configuration file.

The file format is the one every official exporter reads with ``--web.config.file``::

    tls_server_config:
      cert_file: server.crt
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: ca.crt                          # optional
      min_version: TLS12                              # optional
    http_server_config:
      headers: {X-Frame-Options: deny}                # optional
    basic_auth_users:
      alice: $2y$10$...                               # bcrypt hash

Relative paths are resolved against the file's directory, as exporter-toolkit does. Settings that
spark-exporter does not implement are rejected with an error rather than silently ignored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
import ssl
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bcrypt
from aiohttp import web

from ..settings import ConfigError, load_yaml_file

_TOP_KEYS = {"tls_server_config", "http_server_config", "basic_auth_users"}
_TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
_HTTP_KEYS = {"headers", "http2"}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# bcrypt's modular crypt format: $2a$/$2b$/$2y$, a cost from 04 to 31, then 53 characters of salt and hash.
_BCRYPT_RE = re.compile(r"\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
# Headers exporter-toolkit lets users set; anything else is refused there too.
_ALLOWED_HEADERS = {"Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection",
                    "Content-Security-Policy"}


@dataclass
class WebConfig:
    path: str | None = None
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    _ok_cache: set[bytes] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tls(self) -> bool:
        return self.ssl_context is not None

    def check_password(self, user: str, password: str) -> bool:
        """bcrypt check, with successful checks cached (bcrypt is deliberately slow, scrapes are frequent)."""
        hashed = self.users.get(user)
        # Compare against a real hash even for unknown users, so timing does not reveal user names.
        target = hashed if hashed is not None else _DUMMY_HASH
        key = hashlib.sha256(b"\0".join([user.encode(), password.encode(), target])).digest()
        with self._lock:
            if key in self._ok_cache:
                return hashed is not None
        try:
            ok = bcrypt.checkpw(password.encode(), target)
        except ValueError:
            ok = False
        if ok and hashed is not None:
            with self._lock:
                if len(self._ok_cache) > 1024:
                    self._ok_cache.clear()
                self._ok_cache.add(key)
            return True
        return False


_DUMMY_HASH = bcrypt.hashpw(b"spark-exporter-dummy", bcrypt.gensalt(rounds=4))


def _err(path: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"web config file {path}: key {key!r}: {msg}")


def load_web_config(path: str | None) -> WebConfig:
    """Load and validate a web config file; ``None`` gives plain HTTP with no auth."""
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
        wc.ssl_context = _tls_context(path, base, tls)
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, Mapping):
        raise _err(path, "basic_auth_users", "must map user names to bcrypt hashes")
    for user, hashed in users.items():
        if not isinstance(user, str) or not user or ":" in user or not user.isprintable():
            raise _err(path, f"basic_auth_users.{user}", "user names are non-empty text without ':'")
        if not isinstance(hashed, str) or not _BCRYPT_RE.fullmatch(hashed):
            raise _err(path, f"basic_auth_users.{user}", "must be a bcrypt hash ($2y$10$ and 53 characters)")
        wc.users[str(user)] = hashed.replace("$2y$", "$2b$", 1).encode()
    http = data.get("http_server_config") or {}
    if not isinstance(http, Mapping):
        raise _err(path, "http_server_config", "must be a mapping")
    for k in http:
        if k not in _HTTP_KEYS:
            raise _err(path, f"http_server_config.{k}", "unknown or unsupported key")
    headers = http.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise _err(path, "http_server_config.headers", "must be a mapping")
    for name, value in headers.items():
        if name not in _ALLOWED_HEADERS:
            raise _err(path, f"http_server_config.headers.{name}", "header may not be set")
        if isinstance(value, bool) or not isinstance(value, str | int | float) or not str(value).isprintable():
            raise _err(path, f"http_server_config.headers.{name}", "must be one line of text")
        wc.headers[str(name)] = str(value)
    return wc


def _tls_context(path: str, base: str, tls: Any) -> ssl.SSLContext:
    if not isinstance(tls, Mapping):
        raise _err(path, "tls_server_config", "must be a mapping")
    for k in tls:
        if k not in _TLS_KEYS:
            raise _err(path, f"tls_server_config.{k}", "unknown or unsupported key")

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
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    for vkey, attr in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
        v = tls.get(vkey)
        if v is not None:
            if not isinstance(v, str) or v not in _TLS_VERSIONS:
                raise _err(path, f"tls_server_config.{vkey}", f"must be one of {', '.join(_TLS_VERSIONS)}")
            setattr(ctx, attr, _TLS_VERSIONS[v])
    auth = tls.get("client_auth_type", "NoClientCert")
    if not isinstance(auth, str) or auth not in _CLIENT_AUTH:
        raise _err(path, "tls_server_config.client_auth_type", f"must be one of {', '.join(_CLIENT_AUTH)}")
    if tls.get("max_version") is not None and ctx.minimum_version > ctx.maximum_version:
        raise _err(path, "tls_server_config.min_version", "must not be above max_version")
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        raise _err(path, "tls_server_config.cert_file", f"cannot load certificate/key: {e}") from None
    ca = resolve("client_ca_file")
    if auth in {"VerifyClientCertIfGiven", "RequireAndVerifyClientCert"} and not ca:
        raise _err(path, "tls_server_config.client_ca_file", f"required with client_auth_type {auth}")
    if ca:
        try:
            ctx.load_verify_locations(ca)
        except (OSError, ssl.SSLError) as e:
            raise _err(path, "tls_server_config.client_ca_file", f"cannot load: {e}") from None
    ctx.verify_mode = _CLIENT_AUTH[auth]
    return ctx


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def auth_middleware(wc: WebConfig, exempt: frozenset[str] = frozenset()) -> Any:
    """aiohttp middleware enforcing basic auth (when users are configured) and configured headers."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if wc.users and request.path not in exempt:
            header = request.headers.get("Authorization", "")
            # bcrypt is slow by design: keep it off the event loop.
            if not await asyncio.get_running_loop().run_in_executor(None, _authorized, wc, header):
                return web.json_response({"status": "error", "error": "unauthorized"}, status=401,
                                         headers={"WWW-Authenticate": 'Basic realm="spark-exporter"'})
        resp = await handler(request)
        for k, v in wc.headers.items():
            resp.headers[k] = v
        return resp

    return middleware


def _authorized(wc: WebConfig, header: str) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    if not sep:
        return False
    return wc.check_password(user, password)


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
