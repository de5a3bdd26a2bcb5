"""NVML record and replay ('spark-exporter gpu record', --gpu.replay), and the simulator's memory consistency."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pynvml
import pytest
from structlog.testing import capture_logs

from helpers.gpu import Clock, write_meminfo
from helpers.procs import PYTHON, REPO, exporter, http_get, parse_metrics, wait_for
from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.gpu import GpuCollector
from spark_exporter.collectors.gpu.collector import MAX_GPUS
from spark_exporter.collectors.gpu.record import record_library
from spark_exporter.exporter.daemon import load_config
from spark_exporter.exporter.exposition import render
from spark_exporter.nvml.background import WatchedDevice
from spark_exporter.nvml.replay import ReplayedNvml
from spark_exporter.nvml.sim import SimulatedNvml

SEED = 42


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "spark_exporter", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "LD_LIBRARY_PATH": ""})


def exposition(collector: GpuCollector) -> str:
    """One collection with one synchronous PCIe sample, rendered; the simulation marker left out."""
    collector.collect()
    if collector.pcie is not None and collector._devices:
        collector.pcie.sample_once([WatchedDevice(d.handle, d.uuid) for d in collector._devices])
    text = render([f for f in collector.collect() if f.name != "spark_exporter_gpu_simulated_info"]).decode()
    collector.close()
    return text


class TestRecordReplay:
    @pytest.mark.parametrize("profile", ["gb10", "h100x8"])
    def test_replay_of_a_recording_serves_the_recorded_exposition(self, profile: str, tmp_path: Path) -> None:
        """Recording the simulator at one instant, then replaying it, gives byte-identical GPU exposition."""
        procfs = write_meminfo(tmp_path / "proc")
        clock = Clock()
        cfg = load_config([f"--gpu.seed={SEED}"], environ={})
        recording = record_library(cfg, Paths(procfs=str(procfs)), SimulatedNvml(profile, seed=SEED, clock=clock),
                                   "test", clock=clock)
        recording = json.loads(json.dumps(recording))  # as it would be read back from the file
        simulated = exposition(GpuCollector(cfg, Paths(procfs=str(procfs)),
                                            nvml_lib=SimulatedNvml(profile, seed=SEED, clock=clock), clock=clock))
        replayed = exposition(GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=ReplayedNvml(recording),
                                           clock=clock))
        assert replayed == simulated
        assert "DCGM_FI_DEV_GPU_TEMP" in replayed

    def test_record_then_replay_round_trips_through_the_daemon(self, tmp_path: Path) -> None:
        """'gpu record --gpu.simulate=h100x8' then 'spark-exporter --gpu.replay=FILE' serves the same series."""
        out = tmp_path / "h100x8.json"
        done = run_cli("gpu", "record", f"--output={out}", "--gpu.simulate=h100x8", f"--gpu.seed={SEED}")
        assert done.returncode == 0, done.stderr
        rec = json.loads(out.read_text())
        assert (rec["driver"], rec["models"], rec["source"]) == (
            "570.133.20", ["NVIDIA H100 80GB HBM3"], f"simulate:h100x8:seed={SEED}")
        power = {c["args"][0]["gpu"] for c in rec["calls"] if c["fn"] == "nvmlDeviceGetPowerUsage"}
        assert power == set(range(8))

        def gpu_series(url: str) -> set[tuple[str, tuple[tuple[str, str], ...]]] | None:
            fams = parse_metrics(http_get(url + "/metrics")[1].decode())
            pcie = fams.get("DCGM_FI_DEV_PCIE_TX_THROUGHPUT")
            if pcie is None or len(pcie.samples) < 8:
                return None
            return {(s.name, tuple(sorted(s.labels.items()))) for name, f in fams.items()
                    if name.startswith(("DCGM_", "spark_exporter_gpu_")) and name != "spark_exporter_gpu_simulated_info"
                    for s in f.samples}

        with exporter("--gpu.simulate=h100x8", f"--gpu.seed={SEED}", "--collect.min-age=300ms") as p:
            simulated = wait_for(lambda: gpu_series(p.url), 30, 0.3, "simulated series")
        with exporter(f"--gpu.replay={out}", "--collect.min-age=300ms") as p:
            replayed = wait_for(lambda: gpu_series(p.url), 30, 0.3, "replayed series")
        assert replayed == simulated

    @pytest.mark.parametrize(("content", "message"), [
        (None, "no such recording file"),
        ("{not json", "invalid JSON at line 1"),
        ('{"format": "something-else", "calls": []}', "not a spark-exporter NVML recording"),
        ('{"calls": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ("\udcff", "not UTF-8 text"),
    ])
    def test_bad_recording_is_one_line_and_exit_2(self, content: str | None, message: str, tmp_path: Path) -> None:
        """A missing, malformed or foreign recording file is rejected at start-up with one line and exit 2."""
        path = tmp_path / "rec.json"
        if content is not None:
            path.write_text(content, errors="surrogateescape")
        done = run_cli(f"--gpu.replay={path}", "--web.listen-address=127.0.0.1:0")
        assert done.returncode == 2
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1

    def test_a_recording_that_is_not_a_regular_file_is_refused_unread(self, tmp_path: Path) -> None:
        """--gpu.replay=/dev/zero or a FIFO is one line naming it 'not a regular file' and exit 2, never read."""
        fifo = tmp_path / "fifo.json"
        os.mkfifo(fifo)
        for path in ("/dev/zero", str(fifo)):
            done = run_cli(f"--gpu.replay={path}", "--check-config")
            assert done.returncode == 2
            assert f"not a regular file: {path}" in done.stderr and len(done.stderr.strip().splitlines()) == 1

    def test_check_config_refuses_a_malformed_recording(self, tmp_path: Path) -> None:
        """--check-config reads the recording --gpu.replay names: a malformed one is one line and exit 2."""
        path = tmp_path / "rec.json"
        path.write_text("{not json")
        done = run_cli(f"--gpu.replay={path}", "--check-config")
        assert done.returncode == 2
        assert "invalid JSON at line 1" in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert done.stdout == ""

    def test_record_without_a_driver_says_so_and_exits_1(self, tmp_path: Path) -> None:
        """'gpu record' on a machine without libnvidia-ml names the NVML error and writes no file."""
        out = tmp_path / "rec.json"
        done = run_cli("gpu", "record", f"--output={out}")
        assert done.returncode == 1
        assert "error: NVML: NVML unavailable: NVMLError_LibraryNotFound" in done.stderr
        assert not out.exists()

    def test_record_needs_an_output(self) -> None:
        """'gpu record' without --output is a usage error (exit 2)."""
        assert run_cli("gpu", "record").returncode == 2


class TestImplausibleAnswers:
    def _recording(self, profile: str, procfs: Path) -> dict[str, Any]:
        clock = Clock()
        cfg = load_config([f"--gpu.seed={SEED}", "--gpu.pcie-interval=0"], environ={})
        rec = record_library(cfg, Paths(procfs=str(procfs)), SimulatedNvml(profile, seed=SEED, clock=clock), "test",
                             clock=clock)
        return json.loads(json.dumps(rec))

    def test_a_device_count_beyond_any_system_is_read_as_the_cap(self, tmp_path: Path) -> None:
        """A device count of a billion makes discovery look at MAX_GPUS indices, not a billion, and says so."""
        procfs = write_meminfo(tmp_path / "proc")
        rec = self._recording("gb10", procfs)
        for call in rec["calls"]:
            if call["fn"] == "nvmlDeviceGetCount":
                call["value"] = 10**9
        cfg = load_config(["--gpu.pcie-interval=0"], environ={})
        collector = GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=ReplayedNvml(rec))
        with capture_logs() as logs:
            fams = {f.name: f for f in collector.collect()}
        collector.close()
        up = {s.labels["gpu"]: s.value for s in fams["spark_exporter_gpu_up"].samples}
        assert len(up) == MAX_GPUS and up["0"] == 1.0
        assert [e["count"] for e in logs if e["event"] == "gpu_count_implausible"] == [10**9]

    def test_an_nvlink_count_beyond_nvml_maximum_reads_at_most_that_many_links(self, tmp_path: Path) -> None:
        """A link count of a billion is read as NVML's maximum number of links: the collection completes."""
        procfs = write_meminfo(tmp_path / "proc")
        rec = self._recording("h100x8", procfs)
        for call in rec["calls"]:
            if call["fn"] == "nvmlDeviceGetFieldValues":
                for v in call["value"]:
                    if v["fieldId"] == pynvml.NVML_FI_DEV_NVLINK_LINK_COUNT:
                        v["value"] = 10**9
        cfg = load_config(["--gpu.pcie-interval=0"], environ={})
        collector = GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=ReplayedNvml(rec))
        fams = {f.name: f for f in collector.collect()}
        collector.close()
        # The recorded 18 links' reads were keyed on 18 links, so a 36-link read is unrecorded: left out.
        assert "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL" not in fams
        assert len(fams["DCGM_FI_DEV_GPU_TEMP"].samples) == 8

    @pytest.mark.parametrize("bad", ["hot", {"a": 1}, 10**400, [1, 2]])
    def test_a_wrongly_typed_answer_leaves_out_that_field_only(self, tmp_path: Path, bad: Any) -> None:
        """A temperature answered as text, an object, a list or an out-of-range number is left out (logged once);
        every other field of the GPU is still served and the collector succeeds."""
        procfs = write_meminfo(tmp_path / "proc")
        rec = self._recording("gb10", procfs)
        for call in rec["calls"]:
            if call["fn"] in ("nvmlDeviceGetTemperatureV", "nvmlDeviceGetTemperature") and "value" in call:
                call["value"] = bad
        cfg = load_config(["--gpu.pcie-interval=0"], environ={})
        collector = GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=ReplayedNvml(rec))
        with capture_logs() as logs:
            first = {f.name for f in collector.collect()}
            second = {f.name for f in collector.collect()}
        collector.close()
        assert "DCGM_FI_DEV_GPU_TEMP" not in first and first == second
        assert {"DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_UTIL", "spark_exporter_gpu_up"} <= first
        assert [e["field"] for e in logs if e["event"] == "gpu_field_malformed"] == ["DCGM_FI_DEV_GPU_TEMP"]


class TestSimulatorMemoryConsistency:
    @pytest.mark.parametrize("profile", ["gb10", "h100", "h100x8"])
    @pytest.mark.parametrize("host_total_mib", [24105, 124_000])
    def test_used_free_reserved_fit_in_total(self, profile: str, host_total_mib: int, tmp_path: Path) -> None:
        """FB_USED + FB_FREE + FB_RESERVED <= FB_TOTAL on every GPU, at many instants, also on a small host."""
        procfs = write_meminfo(tmp_path / "proc", total_kb=host_total_mib * 1024,
                               available_kb=int(host_total_mib * 1024 * 0.96))
        clock = Clock()
        cfg = load_config([f"--gpu.seed={SEED}", "--gpu.pcie-interval=0"], environ={})
        c = GpuCollector(cfg, Paths(procfs=str(procfs)), nvml_lib=SimulatedNvml(profile, seed=SEED, clock=clock),
                         clock=clock)
        checked = 0
        for _ in range(12):
            fams: dict[str, Any] = {f.name: f for f in c.collect()}
            values = {name: {s.labels["gpu"]: s.value for s in fams[name].samples}
                      for name in ("DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_TOTAL")}
            reserved = {s.labels["gpu"]: s.value for s in fams["DCGM_FI_DEV_FB_RESERVED"].samples} \
                if "DCGM_FI_DEV_FB_RESERVED" in fams else {}
            for gpu, total in values["DCGM_FI_DEV_FB_TOTAL"].items():
                used, free = values["DCGM_FI_DEV_FB_USED"][gpu], values["DCGM_FI_DEV_FB_FREE"][gpu]
                assert used + free + reserved.get(gpu, 0) <= total, (gpu, used, free, total)
                assert used > 0 and free >= 0
                checked += 1
            clock.advance(47)
        c.close()
        assert checked >= 12


class TestRecordCommandSettings:
    def test_check_config_prints_the_settings_and_records_nothing(self, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
        """`gpu record --check-config` prints the exporter settings with their sources and writes no file."""
        from spark_exporter.commands.gpu import main

        out = tmp_path / "rec.json"
        assert main(["record", f"--output={out}", "--gpu.simulate=gb10", "--check-config"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "gpu.simulate=gb10  # flag" in lines and f"output={out}  # flag" in lines
        assert not out.exists()

    def test_bad_exporter_setting_is_one_line_and_exit_2(self, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown simulator profile is refused with one line naming the flag."""
        from spark_exporter.commands.gpu import main

        assert main(["record", f"--output={tmp_path / 'r.json'}", "--gpu.simulate=bogus", "--check-config"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "--gpu.simulate" in err[0]
