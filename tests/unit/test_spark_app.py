"""spark_exporter.workloads.spark_app: the demo's Spark application, its configuration and the Java check.

The application itself runs in tests/test_demo.py (the demo starts it) and, through the same
``spark_conf``/``start_session``, in tests/workload_cluster.py.
"""

from __future__ import annotations

import pytest

from spark_exporter.workloads import spark_app


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


class TestCommandLine:
    def test_bad_port_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--ui-port 0 exits 2 with one line, before anything starts."""
        assert spark_app.main(["--ui-port=0"]) == 2
        assert capsys.readouterr().err.startswith(f"{spark_app.PROG}: error: --ui-port")
