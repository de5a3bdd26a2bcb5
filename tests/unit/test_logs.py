"""The log format: logfmt lines on stderr (spark_exporter/logs.py)."""

from __future__ import annotations

import pytest
import structlog

from spark_exporter.logs import setup_logging


class TestLogfmt:
    def test_booleans_are_written_as_values(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A boolean field is written key=true / key=false, never as a bare key."""
        setup_logging("info", "logfmt")
        try:
            structlog.get_logger().info("listening", tls=False, basic_auth=True)
        finally:
            structlog.reset_defaults()
        line = capsys.readouterr().err.strip()
        fields = dict(part.split("=", 1) for part in line.split(" "))
        assert (fields["event"], fields["tls"], fields["basic_auth"]) == ("listening", "false", "true")
