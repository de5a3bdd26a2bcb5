"""The golden GPU exposition through the real daemon (end to end)."""

from __future__ import annotations

import socket

from helpers.gpu import GOLDEN, SEED, series
from helpers.procs import exporter, http_get, wait_for


class TestEndToEnd:
    def test_daemon_serves_the_golden_series(self) -> None:
        """spark-exporter --gpu.simulate=h100x8 serves exactly the golden file's GPU series over HTTP (once PCIe
        has its first sample and GPM its second)."""
        want = sorted(series((GOLDEN / "gpu_h100x8.txt").read_text(), ignore=("Hostname",)))

        def scraped() -> str | None:
            text = http_get(p.url + "/metrics")[1].decode()
            complete = "DCGM_FI_DEV_PCIE_TX_THROUGHPUT" in text and "DCGM_FI_PROF_SM_ACTIVE" in text
            return text if complete else None

        with exporter("--gpu.simulate=h100x8", f"--gpu.seed={SEED}", "--collect.min-age=0s") as p:
            text = wait_for(scraped, 20, 0.3, "PCIe samples and profiling fields in /metrics")
        assert sorted(series(text, ignore=("Hostname",))) == want
        hosts = {dict(labels).get("Hostname") for _, labels in series(text) if dict(labels).get("Hostname")}
        assert hosts == {socket.gethostname()}
