"""Loading the query client's HTTP configuration file (auth, TLS) and its errors."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from helpers.httpconfig import PASSWORD, USER, write_config
from helpers.procs import tempdir
from spark_exporter.query.httpconfig import load_http_config
from spark_exporter.settings import ConfigError


class TestLoading:
    @pytest.mark.parametrize(
        ("cfg", "message"),
        [
            ({"oauth2": {"client_id": "x"}}, "oauth2: unsupported key"),
            ({"basic_auth": {"username": USER, "password": "a", "password_file": "b"}}, "password & password_file"),
            ({"basic_auth": {"username": USER}, "authorization": {"credentials": "t"}}, "at most one of basic_auth"),
            ({"authorization": {"type": "Basic", "credentials": "t"}}, "use \"basic_auth\""),
            ({"authorization": {"credentials": "a", "credentials_file": "b"}}, "credentials & credentials_file"),
            ({"tls_config": {"cert_file": ["a"]}}, "tls_config.cert_file"),
            ({"tls_config": {"cert_file": "c.pem"}}, "both cert_file and key_file"),
            ({"tls_config": {"min_version": "TLS13", "max_version": "TLS12"}}, "above max_version"),
            ({"tls_config": {"ca_file": "absent.pem"}}, "tls_config.ca_file"),
            ({"basic_auth": {"username": USER, "password_file": "absent"}}, "cannot read"),
            ({"basic_auth": {"username": 5, "password": "p"}}, "basic_auth.username"),
            (["a list"], "top level must be a mapping"),
        ],
    )
    def test_bad_files_are_one_line_config_errors(self, cfg: Any, message: str) -> None:
        """Each malformed configuration is a ConfigError naming the file and what is wrong, on one line."""
        with tempdir("httpcfg") as d:
            path = write_config(d, cfg)
            with pytest.raises(ConfigError) as exc:
                load_http_config(path)
        text = str(exc.value)
        assert message in text and path in text and "\n" not in text

    def test_secret_file_that_is_a_fifo_is_refused(self) -> None:
        """A password_file that is a FIFO is refused at once instead of blocking the start-up."""
        with tempdir("httpcfg") as d:
            os.mkfifo(d / "pipe")
            path = write_config(d, {"basic_auth": {"username": USER, "password_file": "pipe"}})
            with pytest.raises(ConfigError, match="not a regular file"):
                load_http_config(path)

    @pytest.mark.parametrize(
        "tls",
        [{"ca_file": "pipe"}, {"cert_file": "pipe", "key_file": "pipe"}, {"ca_file": "/dev/zero"}],
        ids=["ca-fifo", "cert-fifo", "ca-dev-zero"],
    )
    def test_tls_file_that_is_not_a_regular_file_is_refused(self, tls: dict[str, str]) -> None:
        """A tls_config file that is a FIFO or a device is refused at once instead of blocking the start-up."""
        with tempdir("httpcfg") as d:
            os.mkfifo(d / "pipe")
            path = write_config(d, {"tls_config": tls})
            with pytest.raises(ConfigError) as exc:
                load_http_config(path)
        key = next(iter(tls))
        assert f"tls_config.{key}" in str(exc.value) and "not a regular file" in str(exc.value)

    def test_secrets_stay_out_of_repr_and_describe(self) -> None:
        """Neither repr nor describe() of a loaded configuration contains the password or token."""
        with tempdir("httpcfg") as d:
            basic = load_http_config(write_config(d, {"basic_auth": {"username": USER, "password": PASSWORD}}))
            bearer = load_http_config(write_config(d, {"authorization": {"credentials": "tok-123456"}}))
        for cfg, secret in ((basic, PASSWORD), (bearer, "tok-123456")):
            shown = repr(cfg) + json.dumps(cfg.describe())
            assert secret not in shown
        assert basic.describe()["auth"] == "basic_auth"
        assert bearer.headers() == {"Authorization": "Bearer tok-123456"}
