"""GPM profiling fields (DCGM_FI_PROF_*) on the simulator: differenced between scrapes, never 0 for unknown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pynvml
import pytest
from structlog.testing import capture_logs

from helpers.gpu import Clock, by_gpu, make_collector, scrape, write_meminfo
from helpers.sim_faults import FaultyNvml
from spark_exporter.collectors.gpu.readings import READERS
from spark_exporter.nvml.catalogue import load_catalogue
from spark_exporter.nvml.gpm import GPM_SOURCES, MAX_SAMPLE_AGE, MIB_PER_S
from spark_exporter.nvml.sim import GPM_NVLINK_MIB_PER_S, GPM_PCIE_MIB_PER_S, GPM_SHARES

PROF = {f.name: f for f in load_catalogue(READERS) if f.source in GPM_SOURCES}
SCRAPE = 15.0  # seconds between scrapes


@pytest.fixture
def procfs(tmp_path: Path) -> Path:
    return write_meminfo(tmp_path / "proc")


def expected(sim: FaultyNvml, gpu: int, t1: float, t2: float, field: str) -> float:
    """What the simulator programs for ``field`` on ``gpu`` over [t1, t2], in DCGM's unit."""
    g = sim.gpus[gpu]
    load = (g.load.elapsed(sim._t0, t2) - g.load.elapsed(sim._t0, t1)) / (t2 - t1)
    metric, unit = GPM_SOURCES[PROF[field].source]
    if unit == MIB_PER_S:
        peak = {**GPM_PCIE_MIB_PER_S, **GPM_NVLINK_MIB_PER_S}[metric]
        return peak * load * 1024 * 1024
    return GPM_SHARES[metric] * load


def prof(fams: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {name: by_gpu(fams[name]) for name in PROF if name in fams}


class TestProfilingFields:
    def test_all_eight_h100s_serve_the_programmed_activity_as_ratios(self, procfs: Path) -> None:
        """On 8 simulated H100s every profiling field is served for every GPU, ratios in [0, 1], equal to the
        simulator's activity over the interval between the two scrapes."""
        clock = Clock()
        sim = FaultyNvml("h100x8", seed=42, clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        t1 = clock()
        scrape(c)
        clock.advance(SCRAPE)
        served = prof(scrape(c))
        assert set(served) == set(PROF)
        for name, values in served.items():
            assert sorted(values) == [str(i) for i in range(8)], name
            for gpu, v in values.items():
                assert v == pytest.approx(expected(sim, int(gpu), t1, clock(), name), rel=1e-9), (name, gpu)
                if PROF[name].multiplier == 0.01:
                    assert 0.0 <= v <= 1.0
        assert c.nvml.lib.calls["nvmlGpmSampleAlloc"] == 16  # two buffers per GPU, reused
        c.close()

    def test_first_scrape_serves_none_and_logs_nothing_unsupported(self, procfs: Path) -> None:
        """The first scrape has no interval: no profiling field, and neither they nor PCIe throughput (whose
        first background sample has not arrived) are logged as unsupported."""
        clock = Clock()
        sim = FaultyNvml("h100x2", clock=clock)
        sim.slow_call("nvmlDeviceGetPcieThroughput", 0.5)  # the sampler's first reading is still in flight
        c = make_collector(sim, procfs, clock=clock)
        with capture_logs() as logs:
            fams = scrape(c)
        assert not prof(fams)
        assert "DCGM_FI_DEV_PCIE_TX_THROUGHPUT" not in fams
        assert [e for e in logs if e["event"] == "gpu_field_unsupported"] == []
        c.close()

    def test_device_without_gpm_serves_none_of_them(self, procfs: Path) -> None:
        """A GPU whose nvmlGpmQueryDeviceSupport says unsupported serves no profiling field (not 0); others do."""
        clock = Clock()
        sim = FaultyNvml("h100x4", clock=clock)
        sim._gpm_unsupported = {2}
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        for _ in range(2):
            served = prof(scrape(c))
            clock.advance(SCRAPE)
            assert set(served) == set(PROF)
            assert all(sorted(v) == ["0", "1", "3"] for v in served.values())
        assert sim.calls["nvmlGpmQueryDeviceSupport"] == 4  # asked once per GPU
        assert "nvmlGpmSampleGet" in sim.calls
        c.close()

    def test_gb10_serves_activity_but_no_pcie_or_nvlink_bytes(self, procfs: Path) -> None:
        """GB10 has GPM but neither PCIe nor NVLink: those two pairs are left out, the ratios are served."""
        clock = Clock()
        c = make_collector(FaultyNvml("gb10", clock=clock), procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        served = prof(scrape(c))
        assert set(PROF) - set(served) == {"DCGM_FI_PROF_PCIE_TX_BYTES", "DCGM_FI_PROF_PCIE_RX_BYTES",
                                           "DCGM_FI_PROF_NVLINK_TX_BYTES", "DCGM_FI_PROF_NVLINK_RX_BYTES"}
        assert "DCGM_FI_PROF_SM_ACTIVE" in served
        c.close()

    def test_a_stale_previous_sample_is_replaced_not_used(self, procfs: Path) -> None:
        """After more than MAX_SAMPLE_AGE without a scrape, that scrape serves none (it takes a fresh sample);
        the next one serves the activity of the short interval since."""
        clock = Clock()
        sim = FaultyNvml("h100", seed=5, clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        clock.advance(MAX_SAMPLE_AGE + 1)
        assert not prof(scrape(c))
        t1 = clock()
        clock.advance(SCRAPE)
        served = prof(scrape(c))
        assert served["DCGM_FI_PROF_SM_ACTIVE"]["0"] == pytest.approx(
            expected(sim, 0, t1, clock(), "DCGM_FI_PROF_SM_ACTIVE"))
        c.close()

    def test_a_scrape_right_after_another_repeats_the_last_interval(self, procfs: Path) -> None:
        """Two scrapes closer than nvml.h's 100 ms serve the previous interval's values, without a new sample."""
        clock = Clock()
        sim = FaultyNvml("h100", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        first = prof(scrape(c))
        taken = sim.calls["nvmlGpmSampleGet"]
        clock.advance(0.01)
        assert prof(scrape(c)) == first
        assert sim.calls["nvmlGpmSampleGet"] == taken
        c.close()

    def test_one_metric_failing_leaves_out_that_field_only(self, procfs: Path) -> None:
        """A metric whose nvmlReturn is an error is left out; the other fields of that GPU are served."""
        clock = Clock()

        class OneBad(FaultyNvml):
            def _gpm_value(self, metric_id: int, load: float) -> float | None:
                if metric_id == pynvml.NVML_GPM_METRIC_SM_OCCUPANCY:
                    return None
                if metric_id == pynvml.NVML_GPM_METRIC_FP64_UTIL:
                    return 250.0  # a percentage that cannot be true
                return super()._gpm_value(metric_id, load)

        c = make_collector(OneBad("h100", clock=clock), procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        served = prof(scrape(c))
        assert set(PROF) - set(served) == {"DCGM_FI_PROF_SM_OCCUPANCY", "DCGM_FI_PROF_PIPE_FP64_ACTIVE"}
        c.close()

    def test_a_failing_metrics_call_serves_none_and_the_next_interval_recovers(self, procfs: Path) -> None:
        """nvmlGpmMetricsGet answering Unknown leaves all profiling fields out of that scrape only; other
        fields are served and the collection succeeds."""
        clock = Clock()
        sim = FaultyNvml("h100", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        sim.fail("nvmlGpmMetricsGet", pynvml.NVML_ERROR_UNKNOWN)
        fams = scrape(c)
        assert not prof(fams) and "DCGM_FI_DEV_GPU_TEMP" in fams
        sim.fail("nvmlGpmMetricsGet", 0)
        clock.advance(SCRAPE)
        assert set(prof(scrape(c))) == set(PROF)
        c.close()

    def test_a_gpu_lost_while_sampling_is_taken_out_and_its_samples_freed(self, procfs: Path) -> None:
        """GpuIsLost from nvmlGpmSampleGet takes that GPU out like any other call; its buffers are freed."""
        clock = Clock()
        sim = FaultyNvml("h100x2", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        sim.fail("nvmlGpmSampleGet", pynvml.NVML_ERROR_GPU_IS_LOST, gpu=1)
        fams = scrape(c)
        assert {s.labels["gpu"]: s.value for s in fams["spark_exporter_gpu_up"].samples} == {"0": 1.0, "1": 0.0}
        assert by_gpu(fams["DCGM_FI_PROF_SM_ACTIVE"]).keys() == {"0"}
        assert sim.calls.get("nvmlGpmSampleFree") == 2
        c.close()
        assert sim.calls["nvmlGpmSampleFree"] == 4


class TestRecordReplay:
    def test_a_recording_carries_the_gpm_answers_and_replay_serves_them(self, procfs: Path) -> None:
        """``gpu record`` takes a second collection where a GPU has GPM, so each GPU's metrics are recorded
        (keyed by the GPU its samples were taken on); a replay serves them from its second scrape on."""
        import json
        import time

        from spark_exporter.collectors.base import Paths
        from spark_exporter.collectors.gpu import GpuCollector
        from spark_exporter.collectors.gpu.record import record_library
        from spark_exporter.exporter.daemon import load_config
        from spark_exporter.nvml.replay import ReplayedNvml
        from spark_exporter.nvml.sim import SimulatedNvml

        cfg = load_config(["--gpu.pcie-interval=0"], environ={})
        waits: list[float] = []
        rec = record_library(cfg, Paths(procfs=str(procfs)), SimulatedNvml("h100x2", seed=7), "test",
                             wait=lambda s: (waits.append(s), time.sleep(s)))
        rec = json.loads(json.dumps(rec))
        assert waits == [0.2]
        recorded = {c["args"][0]["gpm_metrics_of"]: {m["metricId"]: m["value"] for m in c["value"]["metrics"]}
                    for c in rec["calls"] if c["fn"] == "nvmlGpmMetricsGet"}
        assert sorted(recorded) == [0, 1]
        assert {c["fn"] for c in rec["calls"]} & {"nvmlGpmSampleAlloc", "nvmlGpmSampleFree"} == set()
        c = GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=ReplayedNvml(rec))
        assert not prof(scrape(c))
        time.sleep(0.15)  # more than nvml.h's 100 ms between the two samples
        served = prof(scrape(c))
        c.close()
        sm = GPM_SOURCES[PROF["DCGM_FI_PROF_SM_ACTIVE"].source][0]
        f = PROF["DCGM_FI_PROF_SM_ACTIVE"]
        assert served[f.name] == {str(g): f.scale(recorded[g][sm]) for g in (0, 1)}
        assert set(served) == set(PROF)


class TestHungGpmCall:
    def test_close_does_not_wait_for_a_hung_gpm_call(self, procfs: Path) -> None:
        """A GPM call hung in the driver holds its GPU's read; close() gives up on it after CLOSE_WAIT, so a
        shut-down or NVML reset is not held by it."""
        import threading
        import time

        clock = Clock()
        sim = FaultyNvml("h100", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        clock.advance(SCRAPE)
        sim.slow_call("nvmlGpmSampleGet", 3.0)
        hung = threading.Thread(target=c.collect, daemon=True)
        hung.start()
        time.sleep(0.3)  # the collection is now inside nvmlGpmSampleGet
        c.gpm.close()  # gives up after CLOSE_WAIT (1 s), long before the 3 s call returns
        assert hung.is_alive()
        hung.join(10)
        c.close()
