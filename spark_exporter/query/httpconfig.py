"""Prometheus' HTTP client configuration file (``--prometheus.http-config-file``), client side.

The format is the one Prometheus and ``promtool --http.config.file`` read (prometheus/common's
``HTTPClientConfig``), limited to what this client implements; any other key is refused by name:

.. code-block:: yaml

    basic_auth: {username: u, password: p}          # or password_file / username_file
    authorization: {type: Bearer, credentials_file: /etc/spark-exporter/prom-token}
    tls_config:
      ca_file: ca.pem            # trust this CA (else the system store)
      cert_file: client.pem      # client certificate, with key_file
      key_file: client-key.pem
      server_name: prometheus.internal   # name to verify (and send as SNI)
      insecure_skip_verify: false
      min_version: TLS12
    follow_redirects: true

Relative file names are resolved against the file's directory, as Prometheus does. Secret files are
read once when the file is loaded, with surrounding whitespace trimmed; restart to pick up a new
secret. Secrets never appear in ``repr``, logs or :meth:`HttpClientConfig.describe`. Errors are
:class:`ConfigError` with one line naming the file and key.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..http.webconfig import tls_load_reason
from ..settings import ConfigError, load_yaml_file, read_text_file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BasicAuth(_Strict):
    """Prometheus-style ``basic_auth``: username or username_file, password or password_file (at most one each)."""

    username: str = ""
    username_file: str | None = None
    password: str | None = Field(default=None, repr=False)
    password_file: str | None = None

    @model_validator(mode="after")
    def _one_of_each(self) -> BasicAuth:
        if self.username and self.username_file:
            raise ValueError("at most one of basic_auth username & username_file must be configured")
        if self.password is not None and self.password_file:
            raise ValueError("at most one of basic_auth password & password_file must be configured")
        return self


class Authorization(_Strict):
    """Prometheus-style ``authorization``: a one-word type (not Basic) and credentials or credentials_file."""

    type: str = "Bearer"
    credentials: str | None = Field(default=None, repr=False)
    credentials_file: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Authorization:
        if self.type.strip().lower() == "basic":
            raise ValueError('authorization type cannot be set to "basic", use "basic_auth" instead')
        if not self.type or any(c in self.type for c in " \r\n\t"):
            raise ValueError("authorization type must be one word")
        if self.credentials is not None and self.credentials_file:
            raise ValueError("at most one of authorization credentials & credentials_file must be configured")
        return self


class TlsConfig(_Strict):
    """Prometheus-style ``tls_config``: CA, client cert and key (both or neither), server name, versions."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = None
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = None

    @model_validator(mode="after")
    def _check(self) -> TlsConfig:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("tls_config needs both cert_file and key_file, or neither")
        if self.min_version and self.max_version and self.min_version > self.max_version:
            raise ValueError(f"tls_config min_version {self.min_version} is above max_version {self.max_version}")
        return self


class HttpConfigFile(_Strict):
    """The file's schema; unknown keys (oauth2, proxy_url, bearer_token, ...) are refused."""

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    tls_config: TlsConfig | None = None
    follow_redirects: bool = True

    @model_validator(mode="after")
    def _one_auth(self) -> HttpConfigFile:
        if self.basic_auth is not None and self.authorization is not None:
            raise ValueError("at most one of basic_auth and authorization must be configured")
        return self


@dataclass(frozen=True)
class HttpClientConfig:
    """What :class:`~spark_exporter.query.client.PrometheusClient` applies to every request."""

    authorization: str | None = field(default=None, repr=False)  # the Authorization header value (secret)
    ssl_context: ssl.SSLContext | None = None  # for https:// URLs; None: the system's defaults
    server_name: str | None = None  # verified instead of the URL's host name, and sent as SNI
    follow_redirects: bool = True
    source: str | None = None  # the file it came from
    auth_kind: str | None = None  # "basic_auth" or "authorization <type>", for describe()

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header to send, or ``{}`` when none is configured."""
        return {"Authorization": self.authorization} if self.authorization else {}

    def describe(self) -> dict[str, Any]:
        """A summary safe to print or log: what is configured, never a secret."""
        return {
            "file": self.source,
            "auth": self.auth_kind or "none",
            "tls": "custom" if self.ssl_context is not None else "default",
            "server_name": self.server_name,
            "follow_redirects": self.follow_redirects,
        }


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


def load_http_config(path: str) -> HttpClientConfig:
    """Load a Prometheus HTTP client configuration file; ConfigError (one line) on any problem."""
    data = load_yaml_file(path, "http config file")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"http config file {path}: top level must be a mapping")
    try:
        cfg = HttpConfigFile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = "unsupported key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(f"http config file {path}: {where}: {msg}") from None
    return _build(cfg, Path(path).resolve().parent, path)


def _build(cfg: HttpConfigFile, base: Path, source: str) -> HttpClientConfig:
    auth, kind = None, None
    if cfg.basic_auth is not None:
        b = cfg.basic_auth
        user = _secret(base, b.username_file, source, "basic_auth.username_file") if b.username_file else b.username
        password = _secret(base, b.password_file, source, "basic_auth.password_file") if b.password_file else b.password
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
        auth, kind = f"Basic {token}", "basic_auth"
    elif cfg.authorization is not None:
        a = cfg.authorization
        creds = a.credentials
        if a.credentials_file:
            creds = _secret(base, a.credentials_file, source, "authorization.credentials_file")
        if creds:
            auth, kind = f"{a.type} {creds}", f"authorization {a.type}"
    if auth is not None and any(c in auth for c in "\r\n\0"):
        raise ConfigError(f"http config file {source}: credentials contain a line break or NUL")
    tls = cfg.tls_config
    return HttpClientConfig(
        authorization=auth,
        ssl_context=_ssl_context(tls, base, source) if tls is not None else None,
        server_name=tls.server_name if tls is not None else None,
        follow_redirects=cfg.follow_redirects,
        source=source,
        auth_kind=kind,
    )


def _path(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def _secret(base: Path, name: str, source: str, key: str) -> str:
    """A secret file's content, whitespace trimmed, read the guarded way every file is (settings.files)."""
    return read_text_file(str(_path(base, name)), f"http config file {source}: {key}").strip()


def _tls_file(base: Path, name: str, source: str, key: str) -> str:
    """The path of a PEM file, checked first to be a small regular UTF-8 file.

    ssl reads these files itself and would block for ever on a FIFO or read /dev/zero without end,
    so each is read once the guarded way before ssl opens it.
    """
    path = str(_path(base, name))
    read_text_file(path, f"http config file {source}: tls_config.{key}")
    return path


def _ssl_context(tls: TlsConfig, base: Path, source: str) -> ssl.SSLContext:
    def fail(key: str, e: Exception) -> ConfigError:
        reason = tls_load_reason(e) if isinstance(e, OSError) else str(e)
        return ConfigError(f"http config file {source}: tls_config.{key}: {reason}")

    try:
        cafile = _tls_file(base, tls.ca_file, source, "ca_file") if tls.ca_file else None
        ctx = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as e:
        raise fail("ca_file", e) from None
    if tls.cert_file and tls.key_file:
        try:
            ctx.load_cert_chain(_tls_file(base, tls.cert_file, source, "cert_file"),
                                _tls_file(base, tls.key_file, source, "key_file"))
        except (OSError, ssl.SSLError) as e:
            raise fail("cert_file", e) from None
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.min_version:
        ctx.minimum_version = _TLS_VERSIONS[tls.min_version]
    if tls.max_version:
        ctx.maximum_version = _TLS_VERSIONS[tls.max_version]
    return ctx
