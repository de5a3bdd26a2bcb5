"""The demo's history backfill as OpenMetrics text: the simulator's values at past instants, under the live labels."""

from __future__ import annotations

import pytest

from spark_exporter.nvml.sim import SimulatedNvml
from spark_exporter.prometheus.backfill import FAMILIES, BackfillError, SimulatedNode, gpu_labels, openmetrics

SCRAPE = """# HELP DCGM_FI_DEV_GPU_TEMP GPU temperature (in C).
# TYPE DCGM_FI_DEV_GPU_TEMP gauge
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-x",Hostname="h",modelName="NVIDIA GB10"} 41
# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-x",Hostname="h",modelName="NVIDIA GB10"} 12
# HELP spark_exporter_up up
# TYPE spark_exporter_up gauge
spark_exporter_up 1
"""
TARGET = {"job": "spark-exporter", "instance": "127.0.0.1:1", "cluster": "demo", "node": "spark-01"}


class TestOpenMetrics:
    def test_labels_come_from_the_scrape_plus_the_target(self) -> None:
        """Each backfilled series carries the exporter's labels and the target labels Prometheus adds."""
        text = openmetrics([SimulatedNode("gb10", 1, TARGET, SCRAPE)], 1_000_000.0, 1_000_060.0, 15.0)
        first = next(line for line in text.splitlines() if line.startswith("DCGM_FI_DEV_GPU_TEMP{"))
        for k, v in {**TARGET, "UUID": "GPU-x", "gpu": "0", "Hostname": "h"}.items():
            assert f'{k}="{v}"' in first

    def test_values_are_the_simulator_s_at_each_instant(self) -> None:
        """The temperature written at an instant is what the simulator with that seed answers at that instant."""
        text = openmetrics([SimulatedNode("gb10", 3, TARGET, SCRAPE)], 1_000_000.0, 1_000_060.0, 15.0)
        temps = [line.rsplit(" ", 2) for line in text.splitlines() if line.startswith("DCGM_FI_DEV_GPU_TEMP{")]
        assert [float(t) for _, _, t in temps] == [1_000_000.0, 1_000_015.0, 1_000_030.0, 1_000_045.0]
        for _, value, t in temps:
            now = float(t)
            nv = SimulatedNvml("gb10", seed=3, clock=lambda n=now: n)  # type: ignore[misc]
            nv.nvmlInit()
            assert float(value) == nv.nvmlDeviceGetTemperature(nv.nvmlDeviceGetHandleByIndex(0), 0)

    def test_families_are_grouped_and_the_text_ends_with_eof(self) -> None:
        """One TYPE line per family, its samples together, and the closing # EOF the format requires."""
        text = openmetrics([SimulatedNode("gb10", 1, TARGET, SCRAPE)], 0.0 + 1e6, 1e6 + 30, 15.0)
        lines = text.splitlines()
        assert lines[-1] == "# EOF"
        types = [line.split()[2] for line in lines if line.startswith("# TYPE")]
        assert types == ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP"]  # only families the scrape had
        assert set(types) <= set(FAMILIES)

    def test_a_scrape_without_gpu_series_is_an_error(self) -> None:
        """Nothing to backfill is BackfillError, not an empty block."""
        with pytest.raises(BackfillError):
            openmetrics([SimulatedNode("gb10", 1, TARGET, "up 1\n")], 1e6, 1e6 + 60, 15.0)

    def test_gpu_labels_skip_other_families(self) -> None:
        """Only the history families are read from the scrape."""
        assert set(gpu_labels(SCRAPE)) == {"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_GPU_UTIL"}
