"""GPU faults: no NVML, lost GPU, driver reload, NVML errors, hung calls; host metrics keep being served."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pynvml
import pytest
from structlog.testing import capture_logs
from test_gpu_helpers import T0, Clock, make_collector, scrape, write_meminfo

from procs import exporter, http_get, parse_metrics, wait_for
from spark_exporter.cli import load_config
from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.loadavg import LoadavgCollector
from spark_exporter.exporter.collection import Collection
from spark_exporter.nvml.facade import Nvml, NvmlFatal, NvmlUnavailable
from spark_exporter.nvml.sim import SimulatedNvml


@pytest.fixture
def procfs(tmp_path: Path) -> Path:
    return write_meminfo(tmp_path / "proc")


def gpu_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("gpu-", "collector-gpu"))]


class _Raising:
    """A library whose every function raises the NVML error ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code

    def __getattr__(self, name: str) -> Any:
        def fn(*_: Any) -> Any:
            raise pynvml.NVMLError(self.code)
        return fn


class TestFacade:
    @pytest.mark.parametrize("code", [pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_NO_PERMISSION,
                                      pynvml.NVML_ERROR_NOT_FOUND])
    def test_unsupported_answers_none(self, code: int) -> None:
        """NotSupported, NoPermission and NotFound give None, so the sample is left out."""
        assert Nvml(_Raising(code)).query("nvmlDeviceGetPowerUsage", object()) is None

    @pytest.mark.parametrize("code", [pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_UNINITIALIZED,
                                      pynvml.NVML_ERROR_DRIVER_NOT_LOADED, pynvml.NVML_ERROR_UNKNOWN])
    def test_lost_or_uninitialised_raise_fatal(self, code: int) -> None:
        """GpuIsLost, Uninitialized, DriverNotLoaded and Unknown raise NvmlFatal naming the call."""
        with pytest.raises(NvmlFatal, match="nvmlDeviceGetPowerUsage"):
            Nvml(_Raising(code)).query("nvmlDeviceGetPowerUsage", object())

    @pytest.mark.parametrize(("code", "event"), [
        (pynvml.NVML_ERROR_FUNCTION_NOT_FOUND, "nvml_function_not_found"),
        (pynvml.NVML_ERROR_TIMEOUT, "nvml_call_failed"),
    ])
    def test_other_errors_answer_none_and_log_once(self, code: int, event: str) -> None:
        """FunctionNotFound and other errors give None and are logged once per function."""
        nvml = Nvml(_Raising(code))
        with capture_logs() as logs:
            for _ in range(3):
                assert nvml.query("nvmlDeviceGetPowerUsage", object()) is None
        assert [e["fn"] for e in logs if e["event"] == event] == ["nvmlDeviceGetPowerUsage"]

    def test_function_missing_from_pynvml_answers_none(self) -> None:
        """A function the installed pynvml does not have is treated like FunctionNotFound."""
        assert Nvml(object()).query("nvmlDeviceGetSomethingNew", object()) is None


class TestNoLibrary:
    def test_init_retries_with_doubling_backoff(self, procfs: Path) -> None:
        """Without the NVML library collect() fails at once, and nvmlInit is retried after 1 s, 2 s, 4 s..."""
        clock = Clock()
        sim = SimulatedNvml("h100", clock=clock)
        sim.remove_library()
        c = make_collector(sim, procfs, clock=clock)
        attempts_at: list[float] = []
        for _ in range(16):
            before = sim.calls.get("nvmlInit", 0)
            with pytest.raises(NvmlUnavailable, match="LibraryNotFound"):
                c.collect()
            if sim.calls.get("nvmlInit", 0) > before:
                attempts_at.append(clock.t - T0)
            clock.advance(0.5)
        assert attempts_at == [0.0, 1.0, 3.0, 7.0]
        sim.remove_library(False)
        clock.advance(8)
        assert "DCGM_FI_DEV_GPU_TEMP" in scrape(c)
        c.close()

    def test_reason_is_logged_once(self, procfs: Path) -> None:
        """Repeated failed initialisations log the reason once, not every cycle."""
        clock = Clock()
        sim = SimulatedNvml("h100", clock=clock)
        sim.remove_library()
        c = make_collector(sim, procfs, clock=clock)
        with capture_logs() as logs:
            for _ in range(10):
                with pytest.raises(NvmlUnavailable):
                    c.collect()
                clock.advance(5)
        failures = [e for e in logs if e["event"] == "nvml_init_failed"]
        assert [e["error"] for e in failures] == ["NVMLError_LibraryNotFound"]

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


class TestLostGpu:
    def test_lost_gpu_fails_the_collector_and_recovers_after_reinit(self, procfs: Path) -> None:
        """GpuIsLost fails collect(), resets NVML and stops its threads; after the backoff NVML comes back."""
        clock = Clock()
        sim = SimulatedNvml("h100x2", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        assert c.xid is not None and c.xid.alive
        sim.lose_gpu(1)
        with pytest.raises(NvmlFatal, match="GpuIsLost"):
            c.collect()
        assert not c.nvml.initialized
        assert not c.xid.alive and c.pcie is not None and not c.pcie.alive
        with pytest.raises(NvmlUnavailable):
            c.collect()  # within the backoff: no re-initialisation attempt
        sim.lose_gpu(1, lost=False)
        clock.advance(1.5)
        fams = scrape(c)
        assert {s.labels["gpu"] for s in fams["DCGM_FI_DEV_GPU_TEMP"].samples} == {"0", "1"}
        c.close()


class TestDriverReload:
    def test_driver_reload_reinitialises_and_relabels(self, procfs: Path) -> None:
        """After a driver reload (Uninitialized) NVML is re-initialised and series carry the new driver."""
        clock = Clock()
        sim = SimulatedNvml("gb10", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        assert scrape(c)["DCGM_FI_DEV_GPU_TEMP"].samples[0].labels["DCGM_FI_DRIVER_VERSION"] == "580.95.05"
        sim.reload_driver("580.105.08")
        with pytest.raises(NvmlFatal, match="Uninitialized"):
            c.collect()
        clock.advance(1.5)
        labels = scrape(c)["DCGM_FI_DEV_GPU_TEMP"].samples[0].labels
        assert labels["DCGM_FI_DRIVER_VERSION"] == "580.105.08"
        c.close()


class TestHungCall:
    def test_hung_nvml_call_never_blocks_host_metrics_or_piles_up_threads(self, procfs: Path) -> None:
        """A hung NVML call scores gpu 0 in each cycle, host metrics stay served, threads do not pile up."""
        sim = SimulatedNvml("h100", clock=Clock())
        cfg = load_config(["--gpu.simulate=h100"], environ={})
        gpu = make_collector(sim, procfs)
        scrape(gpu)
        sim.slow_call("nvmlDeviceGetPowerUsage", 2.0)
        loop = Collection([gpu, LoadavgCollector(cfg, Paths())], timeout=0.2)
        counts = []
        for _ in range(6):
            snap = loop.collect_once()
            fams = parse_metrics(snap.body.decode())
            ok = {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}
            assert ok == {"gpu": 0.0, "loadavg": 1.0}
            assert "node_load1" in fams and "DCGM_FI_DEV_GPU_TEMP" not in fams
            counts.append(threading.active_count())
        # The stuck call holds one thread; later cycles add none (a short-lived worker may come and go).
        assert max(counts) - min(counts) <= 1
        assert {r.name: r.error for r in snap.results}["gpu"] == "previous collection still running"
        sim.slow_call("nvmlDeviceGetPowerUsage", 0)

        def gpu_back() -> bool:
            return {r.name: r.success for r in loop.collect_once().results} == {"gpu": True, "loadavg": True}
        wait_for(gpu_back, 10, 0.2, "the hung call to return and gpu to succeed")
        loop.stop()


class TestClose:
    def test_close_stops_every_gpu_thread(self, procfs: Path) -> None:
        """close() stops the XID watcher and the PCIe sampler; no GPU thread is left behind."""
        before = set(gpu_threads())
        c = make_collector(SimulatedNvml("h100x8", clock=Clock()), procfs)
        scrape(c)
        started = set(gpu_threads()) - before
        assert {t.name for t in started} == {"gpu-xid-events", "gpu-pcie-sampler"}
        c.close()
        assert not any(t.is_alive() for t in started)

    def test_repeated_failures_do_not_leak_threads(self, procfs: Path) -> None:
        """Losing and regaining a GPU ten times leaves at most one watcher and one sampler running."""
        clock = Clock()
        sim = SimulatedNvml("h100x2", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        for _ in range(10):
            scrape(c)
            sim.lose_gpu(0)
            with pytest.raises(NvmlFatal):
                c.collect()
            sim.lose_gpu(0, lost=False)
            clock.advance(120)
        scrape(c)
        names = sorted(t.name for t in gpu_threads() if t.is_alive())
        assert names == ["gpu-pcie-sampler", "gpu-xid-events"]
        c.close()
