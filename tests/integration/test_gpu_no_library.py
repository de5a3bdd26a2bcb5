"""The real exporter on a machine without NVML: host metrics still served."""

from __future__ import annotations

from typing import Any

from helpers.procs import exporter, http_get, parse_metrics, wait_for


class TestNoLibrary:
    def test_real_exporter_without_nvml_serves_host_metrics(self) -> None:
        """Without an NVIDIA driver the daemon serves host metrics and scores gpu 0, logging once."""
        with exporter("--collect.min-age=0s") as p:
            def gpu_failed() -> dict[str, Any] | None:
                fams = parse_metrics(http_get(p.url + "/metrics")[1].decode())
                success = fams["spark_exporter_collector_success"].samples
                ok = {s.labels["collector"]: s.value for s in success}
                return fams if ok.get("gpu") == 0.0 else None
            fams = wait_for(gpu_failed, 20, 0.3, "gpu scored 0")
            for _ in range(5):  # several more collections, which must not log again
                http_get(p.url + "/metrics")
            log = p.log()
        assert "node_load1" in fams
        ok = {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}
        assert ok["loadavg"] == 1.0
        assert not any(n.startswith("DCGM_") for n in fams)
        assert log.count("event=nvml_init_failed") == 1
        assert sum(1 for line in log.splitlines()
                   if "event=collector_failed" in line and "collector=gpu" in line) == 1
