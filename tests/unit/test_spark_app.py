"""spark_exporter.workloads.spark_app: the demo's Spark application, its configuration and the Java check.

The application itself runs in tests/test_demo.py (the demo starts it) and, through the same
``spark_conf``/``start_session``, in tests/workload_cluster.py.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from spark_exporter.workloads import spark_app


def fake_java(directory: Path, version_line: str) -> Path:
    """A ``bin/java`` under ``directory`` that prints ``version_line`` to stderr, as ``java -version`` does."""
    java = directory / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


class TestSparkConf:
    def test_enables_the_endpoints_the_generated_config_scrapes(self) -> None:
        """The PrometheusServlet on /metrics/prometheus, the executors endpoint and the status source are on."""
        conf = spark_app.spark_conf(4040, "app")
        assert conf["spark.metrics.conf.*.sink.prometheusServlet.class"].endswith(".PrometheusServlet")
        assert conf["spark.metrics.conf.*.sink.prometheusServlet.path"] == "/metrics/prometheus"
        assert conf["spark.ui.prometheus.enabled"] == conf["spark.metrics.appStatusSource.enabled"] == "true"

    def test_binds_the_ui_to_the_given_loopback_port(self) -> None:
        """The UI (and so the metrics) listens on 127.0.0.1 at the port the inventory names, or fails."""
        conf = spark_app.spark_conf(4041, "app")
        assert (conf["spark.ui.port"], conf["spark.driver.bindAddress"], conf["spark.port.maxRetries"]) == (
            "4041", "127.0.0.1", "0")


@pytest.mark.integration
class TestJavaCheck:
    @pytest.mark.parametrize(("line", "major"), [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ])
    def test_reads_the_major_version(self, tmp_path: Path, line: str, major: int | None) -> None:
        """``java -version``'s first line gives the major version (1.8 is 8); anything else gives None."""
        assert spark_app.java_major(str(fake_java(tmp_path, line))) == major

    def test_old_java_is_named_in_the_reason(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With PySpark present, a Java 11 on JAVA_HOME is the reason Spark cannot start."""
        fake_java(tmp_path, 'openjdk version "11.0.2" 2019-01-15')
        monkeypatch.setenv("JAVA_HOME", str(tmp_path))
        assert spark_app.unavailable_reason() == "Java 11 found, Spark needs 17 or newer"

    def test_missing_java_is_named_in_the_reason(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A JAVA_HOME without a java binary is reported, not a crash."""
        monkeypatch.setenv("JAVA_HOME", str(tmp_path))
        assert spark_app.unavailable_reason() == "no Java runtime found (JAVA_HOME or java on PATH)"


class TestCommandLine:
    def test_bad_port_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--ui-port 0 exits 2 with one line, before anything starts."""
        assert spark_app.main(["--ui-port=0"]) == 2
        assert capsys.readouterr().err.startswith(f"{spark_app.PROG}: error: --ui-port")
