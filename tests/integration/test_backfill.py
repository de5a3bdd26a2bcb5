"""The demo's backfill end to end: promtool writes an hour of a simulated exporter's GPU history into a data
directory, a real Prometheus started on it answers for the past hour, and the live scrape continues the very
same series (one series per GPU, not two)."""

from __future__ import annotations

import time

import pytest
import yaml

from helpers.procs import exporter, free_port, http_get, prom_query, require_binary, start_process, tempdir, wait_for
from spark_exporter.prometheus.backfill import SimulatedNode, backfill

pytestmark = pytest.mark.integration


def test_an_hour_of_history_then_the_live_series_continues() -> None:
    """After the backfill Prometheus has ~240 temperature samples of the past hour for the node, and once it
    has scraped the exporter there is still exactly one temperature series for the node."""
    promtool = require_binary("promtool")
    with exporter("--gpu.simulate=gb10", "--gpu.seed=2") as exp, tempdir("backfill") as d:
        _, body, _ = http_get(f"{exp.url}/metrics", timeout=10)
        target = {"job": "spark-exporter", "instance": exp.address, "cluster": "bf", "node": "spark-02"}
        now = time.time()
        written = backfill(promtool, [SimulatedNode("gb10", 2, target, body.decode())], d, d / "data", now)
        assert written >= 4 * 235  # four families, an hour every 15 s
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": [{
            "job_name": "spark-exporter", "static_configs": [{"targets": [exp.address]}],
            "relabel_configs": [{"target_label": "cluster", "replacement": "bf"},
                                {"target_label": "node", "replacement": "spark-02"}]}]}
        (d / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        argv = [require_binary("prometheus"), f"--config.file={d / 'prometheus.yml'}",
                f"--storage.tsdb.path={d / 'data'}", f"--web.listen-address=127.0.0.1:{port}"]
        prom = start_process("prometheus", argv, port, d, f"http://127.0.0.1:{port}/-/ready", 60)
        try:
            url = f"http://127.0.0.1:{port}"
            past = prom_query(url, 'count_over_time(DCGM_FI_DEV_GPU_TEMP{node="spark-02"}[50m])', now - 60)
            assert len(past) == 1 and 190 <= float(past[0]["value"][1]) <= 201
            wait_for(lambda: prom_query(url, 'DCGM_FI_DEV_GPU_TEMP{node="spark-02"}', time.time())
                     and prom_query(url, "up")[0]["value"][1] == "1", 30, what="a live scrape")
            series = prom_query(url, 'count(count_over_time(DCGM_FI_DEV_GPU_TEMP{node="spark-02"}[2h]))')
            assert float(series[0]["value"][1]) == 1.0, "the live series is not the backfilled one"
        finally:
            prom.stop()
