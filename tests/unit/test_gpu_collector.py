"""The gpu collector against the simulated NVML: every field, labels, unified memory, processes, PCIe, XID."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pynvml
import pytest
from freezegun import freeze_time
from structlog.testing import capture_logs

from helpers.gpu import (
    DCGM_LABELS,
    MEM_AVAILABLE_KB,
    MEM_TOTAL_KB,
    MIB,
    T0,
    Clock,
    by_gpu,
    make_collector,
    scrape,
    write_meminfo,
)
from helpers.procs import wait_for
from helpers.sim_faults import FaultyNvml
from spark_exporter.collectors.gpu import READERS
from spark_exporter.exporter.daemon import load_config
from spark_exporter.exporter.exposition import render
from spark_exporter.nvml.background import WatchedDevice
from spark_exporter.nvml.catalogue import CatalogueError, load_catalogue, parse_catalogue
from spark_exporter.nvml.sim import SimHandle
from spark_exporter.settings import ConfigError

REFERENCE_CSV = "dcgm-exporter-default-counters.csv"  # in tests/reference/ (reference_file, conftest.py)
#: Rates (KB/s) that dcgm-exporter declares as counters; served as gauges (docs/gpu.md says why).
DELIBERATE_TYPE_CHANGES = {"DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "DCGM_FI_DEV_PCIE_RX_THROUGHPUT"}


@pytest.fixture
def procfs(tmp_path: Path) -> Path:
    return write_meminfo(tmp_path / "proc")


def sample_pcie(collector) -> None:  # type: ignore[no-untyped-def]
    assert collector.pcie is not None
    collector.pcie.sample_once([WatchedDevice(d.handle, d.uuid) for d in collector._devices])


class TestLabels:
    def test_every_gpu_series_carries_the_dcgm_label_set(self, procfs: Path) -> None:
        """Every DCGM and per-GPU series has gpu, UUID, pci_bus_id, device, modelName, Hostname, driver."""
        sim = FaultyNvml("h100x2", seed=3, clock=Clock())
        c = make_collector(sim, procfs)
        fams = scrape(c)
        gpu_fams = [f for n, f in fams.items() if n.startswith("DCGM_") or n.startswith("spark_exporter_gpu_")
                    and n != "spark_exporter_gpu_simulated_info"]
        assert len(gpu_fams) > 20
        for fam in gpu_fams:
            for s in fam.samples:
                assert set(DCGM_LABELS) <= set(s.labels), (fam.name, s.labels)
                assert s.labels["device"] == f"nvidia{s.labels['gpu']}"
                assert s.labels["modelName"] == "NVIDIA H100 80GB HBM3"
                assert s.labels["DCGM_FI_DRIVER_VERSION"] == "570.133.20"
                assert s.labels["UUID"] == sim.gpus[int(s.labels["gpu"])].uuid
                assert s.labels["pci_bus_id"] == sim.gpus[int(s.labels["gpu"])].bus_id
        c.close()

    def test_hostname_label_casing_is_a_setting(self, procfs: Path) -> None:
        """--gpu.hostname-label=hostname renames the label to newer dcgm-exporter's lowercase form."""
        c = make_collector(FaultyNvml("gb10", clock=Clock()), procfs, "--gpu.hostname-label=hostname")
        labels = scrape(c)["DCGM_FI_DEV_GPU_TEMP"].samples[0].labels
        assert "hostname" in labels and "Hostname" not in labels
        c.close()

    def test_unknown_hostname_label_is_rejected(self) -> None:
        """Any other casing of the host label is a configuration error naming the flag."""
        with pytest.raises(ConfigError, match="gpu.hostname-label"):
            load_config(["--gpu.hostname-label=HOST"], environ={})


class TestDiscreteFields:
    def test_values_are_nvml_values_in_dcgm_units(self, procfs: Path) -> None:
        """Each DCGM field equals the NVML reading converted to DCGM's unit (W, MiB, MHz, C, mJ)."""
        sim = FaultyNvml("h100", seed=7, clock=Clock())
        c = make_collector(sim, procfs)
        c.collect()
        sample_pcie(c)
        f = {n: fam.samples[0].value for n, fam in scrape(c).items() if n.startswith("DCGM_")}
        h = SimHandle(0)
        mem = sim.nvmlDeviceGetMemoryInfo(h, pynvml.nvmlMemory_v2)
        util = sim.nvmlDeviceGetUtilizationRates(h)
        links = range(18)
        nvlink = sum(sim.nvmlDeviceGetFieldValues(h, [(fid, ln)])[0].value.ullVal for ln in links
                     for fid in (pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX,
                                 pynvml.NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_RX))
        expected = {
            "DCGM_FI_DEV_GPU_UTIL": util.gpu,
            "DCGM_FI_DEV_MEM_COPY_UTIL": util.memory,
            "DCGM_FI_DEV_FB_TOTAL": 81559,
            "DCGM_FI_DEV_FB_RESERVED": 522,
            "DCGM_FI_DEV_FB_USED": mem.used // MIB,
            "DCGM_FI_DEV_FB_FREE": mem.free // MIB,
            "DCGM_FI_DEV_GPU_TEMP": sim.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU),
            "DCGM_FI_DEV_MEMORY_TEMP": sim.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU) + 6,
            "DCGM_FI_DEV_POWER_USAGE": sim.nvmlDeviceGetPowerUsage(h) / 1000,
            "DCGM_FI_DEV_POWER_MGMT_LIMIT": 700.0,
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": sim.nvmlDeviceGetTotalEnergyConsumption(h),
            "DCGM_FI_DEV_SM_CLOCK": sim.nvmlDeviceGetClockInfo(h, pynvml.NVML_CLOCK_SM),
            "DCGM_FI_DEV_MEM_CLOCK": 2619,
            "DCGM_FI_DEV_PCIE_TX_THROUGHPUT": sim.nvmlDeviceGetPcieThroughput(h, 0),  # TX
            "DCGM_FI_DEV_PCIE_RX_THROUGHPUT": sim.nvmlDeviceGetPcieThroughput(h, 1),  # RX
            "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": sim.nvmlDeviceGetPcieReplayCounter(h),
            "DCGM_FI_DEV_ENC_UTIL": sim.nvmlDeviceGetEncoderUtilization(h)[0],
            "DCGM_FI_DEV_DEC_UTIL": sim.nvmlDeviceGetDecoderUtilization(h)[0],
            "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS": sim.nvmlDeviceGetCurrentClocksEventReasons(h),
            "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL": sim.nvmlDeviceGetTotalEccErrors(h, 0, 0),
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL": sim.nvmlDeviceGetTotalEccErrors(h, 1, 0),
            "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": sim.nvmlDeviceGetRemappedRows(h)[0],
            "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": sim.nvmlDeviceGetRemappedRows(h)[1],
            "DCGM_FI_DEV_ROW_REMAP_FAILURE": sim.nvmlDeviceGetRemappedRows(h)[3],
            "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": nvlink,
            "DCGM_FI_DEV_XID_ERRORS": 0,
        }
        assert f == pytest.approx(expected)
        c.close()

    def test_dcgm_counters_keep_their_names(self, procfs: Path) -> None:
        """DCGM counters are typed counter and their samples carry the DCGM name, with no _total added."""
        c = make_collector(FaultyNvml("h100", clock=Clock()), procfs)
        # prometheus_client's parser renames counter samples to X_total, so the exact names are read
        # from the exposition lines themselves.
        lines = render(list(c.collect())).decode().splitlines()
        for name in ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL",
                     "DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL"):
            assert f"# TYPE {name} counter" in lines
            samples = [ln for ln in lines if ln.startswith(name) and not ln.startswith("#")]
            assert samples and all(ln.startswith(name + "{") for ln in samples)
        assert "# TYPE DCGM_FI_DEV_GPU_TEMP gauge" in lines
        c.close()

    def test_throttle_reasons_are_the_nvml_bitmask(self, procfs: Path) -> None:
        """An idle GPU reports the GPU-idle bit (0x1) of NVML's clock event reasons."""
        clock = Clock()
        sim = FaultyNvml("h100x8", seed=0, clock=clock)
        c = make_collector(sim, procfs)
        # find an instant at which some GPU is idle (load below 12%)
        for _ in range(600):
            reasons = by_gpu(scrape(c)["DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"])
            util = by_gpu(scrape(c)["DCGM_FI_DEV_GPU_UTIL"])
            idle = [g for g, u in util.items() if u < 12]
            if idle:
                break
            clock.advance(7)
        assert idle
        for g in idle:
            assert int(reasons[g]) & 0x1
        c.close()

    def test_counters_only_grow_with_time(self, procfs: Path) -> None:
        """Energy and NVLink counters increase as (frozen, then moved) time passes."""
        with freeze_time("2026-06-01 12:00:00") as frozen:
            sim = FaultyNvml("h100x2", seed=1)
            c = make_collector(sim, procfs)
            before = scrape(c)
            frozen.tick(120)
            after = scrape(c)
            for name in ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"):
                for g, v in by_gpu(before[name]).items():
                    assert by_gpu(after[name])[g] > v
            c.close()

    def test_same_seed_same_values_other_seed_other_gpus(self, procfs: Path) -> None:
        """One seed and one instant give identical readings; another seed gives other UUIDs."""
        a, b, other = (make_collector(FaultyNvml("h100x2", seed=s, clock=Clock()), procfs)
                       for s in (5, 5, 6))
        fa, fb, fo = scrape(a), scrape(b), scrape(other)
        assert fa["DCGM_FI_DEV_POWER_USAGE"].samples == fb["DCGM_FI_DEV_POWER_USAGE"].samples
        uuids = {s.labels["UUID"] for s in fa["DCGM_FI_DEV_GPU_TEMP"].samples}
        assert uuids.isdisjoint({s.labels["UUID"] for s in fo["DCGM_FI_DEV_GPU_TEMP"].samples})
        for c in (a, b, other):
            c.close()


class TestUnsupported:
    GB10_MISSING = ("DCGM_FI_DEV_MEM_CLOCK", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_PCIE_TX_THROUGHPUT",
                    "DCGM_FI_DEV_PCIE_RX_THROUGHPUT", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER",
                    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
                    "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS",
                    "DCGM_FI_DEV_POWER_MGMT_LIMIT", "DCGM_FI_DEV_FB_RESERVED")

    def test_gb10_leaves_out_what_it_does_not_support(self, procfs: Path) -> None:
        """On GB10 unsupported fields are absent (never 0 or NaN); the supported ones are present."""
        c = make_collector(FaultyNvml("gb10", clock=Clock()), procfs)
        c.collect()
        sample_pcie(c)
        fams = scrape(c)
        for name in self.GB10_MISSING:
            assert name not in fams
        for name in ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_POWER_USAGE",
                     "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_FB_USED"):
            assert len(fams[name].samples) == 1
        c.close()

    def test_unsupported_on_one_gpu_drops_only_that_sample(self, procfs: Path) -> None:
        """A field NotSupported on GPU 1 is left out for GPU 1 and still served for GPU 0."""
        sim = FaultyNvml("h100x2", clock=Clock())
        sim.make_unsupported("nvmlDeviceGetPowerUsage", gpu=1)
        c = make_collector(sim, procfs)
        assert set(by_gpu(scrape(c)["DCGM_FI_DEV_POWER_USAGE"])) == {"0"}
        c.close()

    def test_unsupported_field_is_logged_once_per_device(self, procfs: Path) -> None:
        """Each unsupported field is logged once per device, not on every collection."""
        sim = FaultyNvml("h100x2", clock=Clock())
        sim.make_field_unsupported(pynvml.NVML_FI_DEV_MEMORY_TEMP)
        c = make_collector(sim, procfs)
        with capture_logs() as logs:
            for _ in range(3):
                fams = scrape(c)
        assert "DCGM_FI_DEV_MEMORY_TEMP" not in fams
        events = [e for e in logs
                  if e["event"] == "gpu_field_unsupported" and e["field"] == "DCGM_FI_DEV_MEMORY_TEMP"]
        assert sorted(e["gpu"] for e in events) == [0, 1]
        c.close()


class TestUnifiedMemory:
    def test_gb10_memory_is_derived_from_processes_and_host_meminfo(self, procfs: Path) -> None:
        """GB10: FB_USED = sum of process memory, FB_FREE = MemAvailable, FB_TOTAL = MemTotal (MiB)."""
        sim = FaultyNvml("gb10", seed=2, clock=Clock())
        c = make_collector(sim, procfs)
        fams = scrape(c)
        procs = sim.nvmlDeviceGetComputeRunningProcesses(SimHandle(0))
        assert procs
        assert fams["DCGM_FI_DEV_FB_USED"].samples[0].value == sum(p.usedGpuMemory for p in procs) // MIB
        assert fams["DCGM_FI_DEV_FB_FREE"].samples[0].value == MEM_AVAILABLE_KB * 1024 // MIB
        assert fams["DCGM_FI_DEV_FB_TOTAL"].samples[0].value == MEM_TOTAL_KB * 1024 // MIB
        info = fams["spark_exporter_gpu_memory_info"].samples
        assert [(s.labels["memory_source"], s.value) for s in info] == [("unified", 1.0)]
        c.close()

    def test_driver_reporting_host_total_counts_as_unified(self, procfs: Path) -> None:
        """A driver that answers memory info with host MemTotal as the total is treated as unified memory."""
        sim = FaultyNvml("gb10", clock=Clock())
        sim.report_host_total(MEM_TOTAL_KB * 1024 + 3 * MIB)
        c = make_collector(sim, procfs)
        fams = scrape(c)
        assert fams["spark_exporter_gpu_memory_info"].samples[0].labels["memory_source"] == "unified"
        assert fams["DCGM_FI_DEV_FB_FREE"].samples[0].value == MEM_AVAILABLE_KB * 1024 // MIB
        c.close()

    def test_switch_off_leaves_gb10_memory_out(self, procfs: Path) -> None:
        """--gpu.unified-memory=off serves only NVML's memory values, which GB10 does not have."""
        c = make_collector(FaultyNvml("gb10", clock=Clock()), procfs, "--gpu.unified-memory=off")
        fams = scrape(c)
        for name in ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_TOTAL",
                     "spark_exporter_gpu_memory_info"):
            assert name not in fams
        c.close()

    def test_missing_meminfo_leaves_memory_out(self, tmp_path: Path) -> None:
        """Without a readable /proc/meminfo the unified memory figures are left out, not zero."""
        c = make_collector(FaultyNvml("gb10", clock=Clock()), tmp_path / "empty")
        fams = scrape(c)
        assert "DCGM_FI_DEV_FB_FREE" not in fams and "DCGM_FI_DEV_FB_USED" not in fams
        c.close()

    def test_discrete_memory_passes_through(self, procfs: Path) -> None:
        """On an H100 the FB values are NVML's and the source is nvml."""
        sim = FaultyNvml("h100", clock=Clock())
        c = make_collector(sim, procfs)
        fams = scrape(c)
        mem = sim.nvmlDeviceGetMemoryInfo(SimHandle(0), pynvml.nvmlMemory_v2)
        assert fams["DCGM_FI_DEV_FB_USED"].samples[0].value == mem.used // MIB
        assert fams["spark_exporter_gpu_memory_info"].samples[0].labels["memory_source"] == "nvml"
        c.close()


class TestProcesses:
    def test_process_memory_has_pid_and_name(self, procfs: Path) -> None:
        """Per-process GPU memory is served in bytes with pid and the process name (basename)."""
        sim = FaultyNvml("h100", seed=4, clock=Clock())
        c = make_collector(sim, procfs)
        samples = scrape(c)["spark_exporter_gpu_process_memory_bytes"].samples
        running = sim.nvmlDeviceGetComputeRunningProcesses(SimHandle(0))
        expected = {str(p.pid): p.usedGpuMemory for p in running}
        assert {s.labels["pid"]: s.value for s in samples} == expected
        for s in samples:
            path = sim.nvmlSystemGetProcessName(int(s.labels["pid"]))
            assert s.labels["process_name"] == path.split("/")[-1]
        c.close()

    def test_process_metrics_can_be_switched_off(self, procfs: Path) -> None:
        """--no-gpu.process-metrics removes the per-process family but keeps unified FB_USED."""
        c = make_collector(FaultyNvml("gb10", clock=Clock()), procfs, "--no-gpu.process-metrics")
        fams = scrape(c)
        assert "spark_exporter_gpu_process_memory_bytes" not in fams
        assert "DCGM_FI_DEV_FB_USED" in fams
        c.close()

    def test_cardinality_bound_keeps_the_largest(self, procfs: Path) -> None:
        """--gpu.max-processes=1 keeps only the process using the most memory, and logs the cut once."""
        sim = FaultyNvml("h100x8", seed=0, clock=Clock())
        c = make_collector(sim, procfs, "--gpu.max-processes=1")
        with capture_logs() as logs:
            scrape(c)
            samples = scrape(c)["spark_exporter_gpu_process_memory_bytes"].samples
        for g in sim.gpus:
            mine = [s for s in samples if s.labels["gpu"] == str(g.index)]
            running = sim.nvmlDeviceGetComputeRunningProcesses(SimHandle(g.index))
            largest = max(p.usedGpuMemory for p in running)
            assert [s.value for s in mine] == [largest]
        cut = [e for e in logs if e["event"] == "gpu_processes_truncated"]
        assert cut and len(cut) == len({e["gpu"] for e in cut})
        c.close()

    def test_max_processes_must_be_positive(self) -> None:
        """A cardinality bound below 1 is a configuration error."""
        with pytest.raises(ConfigError, match="gpu.max-processes"):
            load_config(["--gpu.max-processes=0"], environ={})


class TestPcie:
    def test_collect_never_samples_pcie(self, procfs: Path) -> None:
        """collect() reads the sampler's cache; the 20 ms NVML call happens only in the sampler."""
        sim = FaultyNvml("h100x2", clock=Clock())
        c = make_collector(sim, procfs, "--gpu.pcie-interval=1h")
        c.collect()
        sample_pcie(c)
        before = sim.calls["nvmlDeviceGetPcieThroughput"]
        fams = scrape(c)
        assert sim.calls["nvmlDeviceGetPcieThroughput"] == before
        assert len(fams["DCGM_FI_DEV_PCIE_TX_THROUGHPUT"].samples) == 2
        c.close()

    def test_stale_samples_are_dropped(self, procfs: Path) -> None:
        """A PCIe sample older than three sampling intervals is left out rather than served stale."""
        clock = Clock()
        c = make_collector(FaultyNvml("h100", clock=clock), procfs, "--gpu.pcie-interval=1h", clock=clock)
        c.collect()
        sample_pcie(c)
        assert "DCGM_FI_DEV_PCIE_TX_THROUGHPUT" in scrape(c)
        clock.advance(3 * 3600 + 1)
        assert "DCGM_FI_DEV_PCIE_TX_THROUGHPUT" not in scrape(c)
        c.close()

    def test_interval_zero_turns_pcie_off(self, procfs: Path) -> None:
        """--gpu.pcie-interval=0 starts no sampler and serves no PCIe throughput."""
        sim = FaultyNvml("h100", clock=Clock())
        c = make_collector(sim, procfs, "--gpu.pcie-interval=0")
        fams = scrape(c)
        assert c.pcie is None and "DCGM_FI_DEV_PCIE_TX_THROUGHPUT" not in fams
        assert "nvmlDeviceGetPcieThroughput" not in sim.calls
        c.close()


class TestXid:
    def test_xid_event_sets_last_code_and_counts(self, procfs: Path) -> None:
        """An XID event sets DCGM_FI_DEV_XID_ERRORS to its code and increments our counter."""
        sim = FaultyNvml("h100x2", clock=Clock())
        c = make_collector(sim, procfs)
        fams = scrape(c)
        assert by_gpu(fams["DCGM_FI_DEV_XID_ERRORS"]) == {"0": 0.0, "1": 0.0}
        assert "spark_exporter_gpu_xid_errors" not in fams
        sim.inject_xid(1, 79)
        sim.inject_xid(1, 79)
        sim.inject_xid(1, 31)
        wait_for(lambda: sum(c._xid_counts.values()) == 3, 10, 0.05, "three XIDs")
        fams = scrape(c)
        last = {s.labels["gpu"]: s for s in fams["DCGM_FI_DEV_XID_ERRORS"].samples}
        assert last["1"].value == 31 and last["1"].labels["err_code"] == "31"
        assert last["1"].labels["err_msg"] == "GPU memory page fault"
        assert last["0"].value == 0 and last["0"].labels["err_msg"] == "No Error"
        counts = {(s.labels["gpu"], s.labels["xid"]): s.value
                  for s in fams["spark_exporter_gpu_xid_errors"].samples if s.name.endswith("_total")}
        assert counts == {("1", "79"): 2.0, ("1", "31"): 1.0}
        c.close()

    def test_unsupported_registration_means_no_xid_series(self, procfs: Path) -> None:
        """When event registration is NotSupported there is no XID series, and that is logged once."""
        sim = FaultyNvml("gb10", clock=Clock())
        sim.disable_events()
        c = make_collector(sim, procfs)
        with capture_logs() as logs:
            for _ in range(3):
                fams = scrape(c)
        assert "DCGM_FI_DEV_XID_ERRORS" not in fams
        assert len([e for e in logs if e["event"] == "gpu_xid_events_unsupported"]) == 1
        assert c.xid is not None and not c.xid.alive
        c.close()


class TestCatalogue:
    def test_every_row_renders_on_h100(self, procfs: Path) -> None:
        """Every catalogue row yields a family on a fully featured discrete GPU."""
        clock = Clock()
        c = make_collector(FaultyNvml("h100x2", clock=clock), procfs, clock=clock)
        c.collect()
        sample_pcie(c)
        clock.advance(15)  # GPM's profiling fields need a second sample, one scrape later
        names = {n for n in scrape(c) if n.startswith("DCGM_")}
        assert names == {f.name for f in load_catalogue(READERS)}
        c.close()

    def test_types_and_help_match_dcgm_exporter(self, reference_file: Callable[[str], Path]) -> None:
        """Every field that dcgm-exporter's default list also has keeps its type and HELP, except the PCIe rates."""
        ours = {f.name: f for f in load_catalogue(READERS)}
        checked = 0
        with open(reference_file(REFERENCE_CSV), encoding="utf-8") as fh:
            for row in csv.reader(line for line in fh if line.strip() and not line.startswith("#")):
                name, typ, help_text = (c.strip() for c in row[:3])
                if name in ours and name not in DELIBERATE_TYPE_CHANGES:
                    assert (ours[name].type, ours[name].help) == (typ, help_text), name
                    checked += 1
        assert checked >= 15
        assert {ours[name].type for name in DELIBERATE_TYPE_CHANGES} == {"gauge"}

    @pytest.mark.parametrize(("text", "message"), [
        ("DCGM_FI_DEV_GPU_TEMP, gauge, GPU temp., temperature.gpu", ":2: expected 5 columns"),
        ("dcgm_fi_dev_gpu_temp, gauge, GPU temp., temperature.gpu, 1", ":2: invalid DCGM field"),
        ("DCGM_FI_DEV_GPU_TEMP, summary, GPU temp., temperature.gpu, 1", ":2: type must be"),
        ("DCGM_FI_DEV_GPU_TEMP, gauge, GPU temp., temperature.fan, 1", ":2: unknown NVML source"),
        ("DCGM_FI_DEV_GPU_TEMP, gauge, GPU temp., temperature.gpu, -2", ":2: scale must be"),
        ("DCGM_FI_DEV_GPU_TEMP, gauge, , temperature.gpu, 1", ":2: empty HELP"),
    ])
    def test_bad_rows_are_reported_with_file_and_line(self, text: str, message: str) -> None:
        """A malformed catalogue row raises an error naming the file and line."""
        with pytest.raises(CatalogueError, match=message):
            parse_catalogue("# header\n" + text + "\n", "fields.csv", READERS)

    def test_duplicate_field_names_both_lines(self) -> None:
        """A field defined twice is an error that names both lines."""
        row = "DCGM_FI_DEV_GPU_TEMP, gauge, GPU temperature (in C)., temperature.gpu, 1\n"
        with pytest.raises(CatalogueError, match=r"fields.csv:2: .* already defined on line 1"):
            parse_catalogue(row + row, "fields.csv", READERS)


class TestSimulationOption:
    def test_unknown_profile_is_a_clear_error(self) -> None:
        """An unknown profile names the flag and the accepted forms."""
        with pytest.raises(ConfigError, match=r"--gpu.simulate.*gb10, h100.*h100x8"):
            load_config(["--gpu.simulate=a100"], environ={})

    def test_simulation_shows_in_an_info_series_and_the_log(self, procfs: Path) -> None:
        """A simulated run serves spark_exporter_gpu_simulated_info and logs a warning at start."""
        with capture_logs() as logs:
            c = make_collector(FaultyNvml("h100x8", seed=9, clock=Clock(T0)), procfs)
        info = scrape(c)["spark_exporter_gpu_simulated_info"].samples
        assert [(s.labels, s.value) for s in info] == [({"profile": "h100x8", "seed": "9"}, 1.0)]
        assert any(e["event"] == "gpu_simulation_enabled" and e["log_level"] == "warning" for e in logs)
        c.close()
