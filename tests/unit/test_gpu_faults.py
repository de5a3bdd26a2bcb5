"""GPU faults: no NVML, lost GPU, driver reload, NVML errors, hung calls; host metrics keep being served."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pynvml
import pytest
from structlog.testing import capture_logs

from helpers.gpu import GIB, T0, Clock, by_gpu, make_collector, scrape, write_meminfo
from helpers.procs import parse_metrics, wait_for
from helpers.sim_faults import FaultyNvml
from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.loadavg import LoadavgCollector
from spark_exporter.exporter.collection import Collection
from spark_exporter.exporter.daemon import load_config
from spark_exporter.nvml.facade import GpuLost, Nvml, NvmlFatal, NvmlUnavailable


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

    @pytest.mark.parametrize("code", [pynvml.NVML_ERROR_UNINITIALIZED, pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
                                      pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
                                      pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH])
    def test_library_gone_raises_fatal(self, code: int) -> None:
        """Uninitialized, DriverNotLoaded, LibraryNotFound and a version mismatch raise NvmlFatal naming the call."""
        with pytest.raises(NvmlFatal, match="nvmlDeviceGetPowerUsage"):
            Nvml(_Raising(code)).query("nvmlDeviceGetPowerUsage", object())

    @pytest.mark.parametrize("code", [pynvml.NVML_ERROR_GPU_IS_LOST, pynvml.NVML_ERROR_RESET_REQUIRED])
    def test_gpu_scoped_errors_raise_gpu_lost(self, code: int) -> None:
        """GpuIsLost and ResetRequired raise GpuLost (that GPU alone), not a library-wide NvmlFatal."""
        with pytest.raises(GpuLost, match="nvmlDeviceGetPowerUsage"):
            Nvml(_Raising(code)).query("nvmlDeviceGetPowerUsage", object())

    def test_unknown_error_leaves_out_the_value_only(self) -> None:
        """NVML_ERROR_UNKNOWN on one call gives None for that call; it is neither fatal nor GPU-scoped."""
        assert Nvml(_Raising(pynvml.NVML_ERROR_UNKNOWN)).query("nvmlDeviceGetPowerUsage", object()) is None

    def test_attribute_error_inside_a_binding_is_an_error_not_a_missing_function(self) -> None:
        """An AttributeError raised inside the binding propagates; only a name lookup failure means 'missing'."""
        class Broken:
            def nvmlDeviceGetPowerUsage(self, _h: Any) -> Any:  # noqa: N802
                return None .watts  # type: ignore[attr-defined]  # a bug inside the binding

        with pytest.raises(AttributeError):
            Nvml(Broken()).query("nvmlDeviceGetPowerUsage", object())

    def test_library_mismatch_falls_back_to_the_older_variant(self) -> None:
        """nvidia-ml-py's NVMLLibraryMismatchError counts as a missing variant: the chain tries the next one."""
        class Old:
            def newer(self, _h: Any) -> Any:
                raise pynvml.NVMLLibraryMismatchError("no _v3 in this driver")

            def older(self, _h: Any) -> int:
                return 7

        nvml = Nvml(Old())
        assert nvml.query_chain(("newer", "older"), object()) == 7
        assert nvml.query("newer", object()) is None

    def test_chain_remembers_the_variant_the_driver_has(self) -> None:
        """A missing newest variant is looked up once; later calls go straight to the variant that exists."""
        calls: list[str] = []

        class Old:
            def nvmlDeviceGetComputeRunningProcesses_v3(self, _h: Any) -> Any:  # noqa: N802
                calls.append("v3")
                raise pynvml.NVMLError(pynvml.NVML_ERROR_FUNCTION_NOT_FOUND)

            def nvmlDeviceGetComputeRunningProcesses_v2(self, _h: Any) -> list[Any]:  # noqa: N802
                calls.append("v2")
                return []

        nvml = Nvml(Old())
        chain = ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2")
        for _ in range(3):
            assert nvml.query_chain(chain, object()) == []
        assert calls == ["v3", "v2", "v2", "v2"]

    def test_persistent_library_error_after_reinit_is_demoted(self) -> None:
        """A call that answers Uninitialized again right after a successful re-init stops causing re-inits."""
        class OneBrokenCall:
            def nvmlInit(self) -> None:  # noqa: N802
                pass

            def nvmlShutdown(self) -> None:  # noqa: N802
                pass

            def nvmlDeviceGetPowerUsage(self, _h: Any) -> Any:  # noqa: N802
                raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)

        clock = Clock()
        nvml = Nvml(OneBrokenCall(), clock)
        nvml.ensure_initialized()
        with pytest.raises(NvmlFatal) as caught:
            nvml.query("nvmlDeviceGetPowerUsage", object())
        nvml.reset(caught.value)
        clock.advance(1.5)
        nvml.ensure_initialized()
        for _ in range(5):
            assert nvml.query("nvmlDeviceGetPowerUsage", object()) is None
        assert nvml.initialized and nvml.reinitialisations == 1

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
        sim = FaultyNvml("h100", clock=clock)
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
        sim = FaultyNvml("h100", clock=clock)
        sim.remove_library()
        c = make_collector(sim, procfs, clock=clock)
        with capture_logs() as logs:
            for _ in range(10):
                with pytest.raises(NvmlUnavailable):
                    c.collect()
                clock.advance(5)
        failures = [e for e in logs if e["event"] == "nvml_init_failed"]
        assert [e["error"] for e in failures] == ["NVMLError_LibraryNotFound"]


class TestLostGpu:
    def test_lost_gpu_is_taken_out_alone_and_comes_back(self, procfs: Path) -> None:
        """GpuIsLost on GPU 1 drops its series and marks it down; GPU 0 stays served, NVML is not reset."""
        clock = Clock()
        sim = FaultyNvml("h100x2", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        scrape(c)
        sim.lose_gpu(1)
        fams = scrape(c)
        assert by_gpu(fams["spark_exporter_gpu_up"]) == {"0": 1.0, "1": 0.0}
        assert set(by_gpu(fams["DCGM_FI_DEV_GPU_TEMP"])) == {"0"}
        assert c.nvml.initialized and c.xid is not None and c.xid.alive
        xids = {(s.labels["gpu"], s.labels["xid"]): s.value for s in fams["spark_exporter_gpu_xid_errors"].samples}
        assert xids == {("1", "79"): 1.0}
        scrape(c)  # still lost: the loss is counted once
        sim.lose_gpu(1, lost=False)
        clock.advance(1.5)
        fams = scrape(c)
        assert by_gpu(fams["spark_exporter_gpu_up"]) == {"0": 1.0, "1": 1.0}
        assert set(by_gpu(fams["DCGM_FI_DEV_GPU_TEMP"])) == {"0", "1"}
        assert [s.value for s in fams["spark_exporter_gpu_xid_errors"].samples] == [1.0]
        c.close()

    def test_gpu_lost_at_discovery_leaves_the_others_served(self, procfs: Path) -> None:
        """GPU 3 of 8 lost even to its handle lookup: 7 served, GPU 3 up 0 and XID 79 counted, kept when it returns."""
        clock = Clock()
        sim = FaultyNvml("h100x8", clock=clock)
        sim.lose_gpu(3)
        c = make_collector(sim, procfs, clock=clock)
        fams = scrape(c)
        up = by_gpu(fams["spark_exporter_gpu_up"])
        assert up == {str(i): (0.0 if i == 3 else 1.0) for i in range(8)}
        assert set(by_gpu(fams["DCGM_FI_DEV_POWER_USAGE"])) == {str(i) for i in range(8)} - {"3"}
        assert {(s.labels["gpu"], s.labels["xid"]) for s in fams["spark_exporter_gpu_xid_errors"].samples} == {
            ("3", "79")}
        assert {s.labels["UUID"] for s in fams["spark_exporter_gpu_up"].samples if s.value == 0} == {""}
        sim.lose_gpu(3, lost=False)
        clock.advance(1.5)
        fams = scrape(c)
        xids = {(s.labels["gpu"], s.labels["UUID"], s.labels["xid"]): s.value
                for s in fams["spark_exporter_gpu_xid_errors"].samples}
        assert xids == {("3", sim.gpus[3].uuid, "79"): 1.0}  # the count follows the GPU to its UUID
        c.close()

    def test_unknown_on_one_call_keeps_the_collector_successful(self, procfs: Path) -> None:
        """A persistent Unknown from nvmlDeviceGetPowerUsage on one GPU drops that sample only, every cycle."""
        clock = Clock()
        sim = FaultyNvml("h100x2", clock=clock)
        sim.fail("nvmlDeviceGetPowerUsage", pynvml.NVML_ERROR_UNKNOWN, gpu=1)
        c = make_collector(sim, procfs, clock=clock)
        for _ in range(5):
            fams = scrape(c)
            assert set(by_gpu(fams["DCGM_FI_DEV_POWER_USAGE"])) == {"0"}
            assert set(by_gpu(fams["DCGM_FI_DEV_GPU_TEMP"])) == {"0", "1"}
            clock.advance(15)
        assert sim.calls["nvmlInit"] == 1
        c.close()

    def test_memory_info_v2_unknown_falls_back_to_v1(self, procfs: Path) -> None:
        """nvmlDeviceGetMemoryInfo_v2 answering Unknown: FB_TOTAL and FB_USED still come from the v1 call."""
        class V2Broken(FaultyNvml):
            def nvmlDeviceGetMemoryInfo(self, h: Any, version: int | None = None) -> Any:  # noqa: N802
                if version:
                    raise pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN)
                return super().nvmlDeviceGetMemoryInfo(h)

        sim = V2Broken("h100", clock=Clock())
        c = make_collector(sim, procfs)
        fams = scrape(c)
        assert fams["DCGM_FI_DEV_FB_TOTAL"].samples[0].value == 81559
        assert "DCGM_FI_DEV_FB_USED" in fams and "DCGM_FI_DEV_FB_RESERVED" not in fams
        c.close()


class TestDriverReload:
    def test_driver_reload_reinitialises_and_relabels(self, procfs: Path) -> None:
        """After a driver reload (Uninitialized) NVML is re-initialised and series carry the new driver."""
        clock = Clock()
        sim = FaultyNvml("gb10", clock=clock)
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
        sim = FaultyNvml("h100", clock=Clock())
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
        c = make_collector(FaultyNvml("h100x8", clock=Clock()), procfs)
        scrape(c)
        started = set(gpu_threads()) - before
        assert {t.name for t in started} == {"gpu-xid-events", "gpu-pcie-sampler"}
        c.close()
        assert not any(t.is_alive() for t in started)

    def test_repeated_failures_do_not_leak_threads(self, procfs: Path) -> None:
        """Ten driver reloads (each a re-initialisation) leaves at most one watcher and one sampler running."""
        clock = Clock()
        sim = FaultyNvml("h100x2", clock=clock)
        c = make_collector(sim, procfs, clock=clock)
        for _ in range(10):
            scrape(c)
            sim.reload_driver()
            with pytest.raises(NvmlFatal):
                c.collect()
            clock.advance(120)
        scrape(c)
        names = sorted(t.name for t in gpu_threads() if t.is_alive())
        assert names == ["gpu-pcie-sampler", "gpu-xid-events"]
        c.close()


class TestImpossibleValues:
    def test_impossible_values_are_dropped_not_exported(self, procfs: Path) -> None:
        """NVML's sentinels are left out, and a process list with an impossible record (pid 0, a pid above
        pid_max, memory beyond the device total) is not trusted at all: no process series for that GPU."""
        (procfs / "sys" / "kernel").mkdir(parents=True)
        (procfs / "sys" / "kernel" / "pid_max").write_text("32768\n")

        class Odd(FaultyNvml):
            def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> list[Any]:  # noqa: N802
                def proc(pid: int, used: int) -> Any:
                    return pynvml.nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used})
                if h.index == 1:  # a plausible list on the second GPU
                    return [proc(4243, 2 * GIB)]
                return [proc(0, GIB), proc(40_000, GIB), proc(4242, 10**15), proc(4243, 2 * GIB)]

            def nvmlDeviceGetPowerUsage(self, h: Any) -> int:  # noqa: N802
                return 0xFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE_uint

            def nvmlDeviceGetTotalEnergyConsumption(self, h: Any) -> int:  # noqa: N802
                return 0xFFFFFFFFFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE_ulonglong

        c = make_collector(Odd("h100x2", clock=Clock()), procfs)
        with capture_logs() as logs:
            fams = scrape(c)
            scrape(c)
        procs = {(s.labels["gpu"], s.labels["pid"]): s.value
                 for s in fams["spark_exporter_gpu_process_memory_bytes"].samples}
        assert procs == {("1", "4243"): 2.0 * GIB}
        assert [e["gpu"] for e in logs if e["event"] == "gpu_process_list_implausible"] == [0]
        assert "DCGM_FI_DEV_POWER_USAGE" not in fams and "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" not in fams
        assert "DCGM_FI_DEV_GPU_TEMP" in fams
        c.close()

    @pytest.mark.parametrize("misread", [True, False])
    def test_misread_process_records_leave_unified_fb_used_out(self, procfs: Path, misread: bool) -> None:
        """On unified memory, records misread by an older binding (one plausible 1,000 MiB record among
        impossible ones, where the truth is 6,000 MiB) leave DCGM_FI_DEV_FB_USED out instead of serving
        1,000; FB_FREE and FB_TOTAL (host meminfo) stay. A plausible list is summed as before."""
        mib = 1024 * 1024

        class Misread(FaultyNvml):
            def nvmlDeviceGetComputeRunningProcesses(self, h: Any) -> list[Any]:  # noqa: N802
                def proc(pid: int, used: int) -> Any:
                    return pynvml.nvmlFriendlyObject({"pid": pid, "usedGpuMemory": used})
                if misread:  # v3 records read with the v2 size: pids and sizes from the wrong offsets
                    return [proc(4242, 1000 * mib), proc(0, 0), proc(0xFFFFFFFF, 5000 * mib)]
                return [proc(4242, 1000 * mib), proc(4343, 5000 * mib)]

        c = make_collector(Misread("gb10", clock=Clock()), procfs)
        fams = scrape(c)
        if misread:
            assert "DCGM_FI_DEV_FB_USED" not in fams
            assert "spark_exporter_gpu_process_memory_bytes" not in fams
        else:
            assert by_gpu(fams["DCGM_FI_DEV_FB_USED"]) == {"0": 6000.0}
        assert "DCGM_FI_DEV_FB_FREE" in fams and "DCGM_FI_DEV_FB_TOTAL" in fams
        c.close()
