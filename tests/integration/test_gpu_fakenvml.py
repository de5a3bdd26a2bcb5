"""The whole daemon on the real nvidia-ml-py over a fake libnvidia-ml.so.1 (tests/fakenvml/), at the C ABI.

The fake library is compiled in this run against NVIDIA's official nvml.h and found through
LD_LIBRARY_PATH, as the real driver library is; nothing in pynvml is replaced. Its profiles are
recordings of the simulator (``spark-exporter gpu record``), so the daemon on the fake library must serve
the same families and label sets as the daemon on the simulator; NVML failures (lost GPU, driver reload,
hung calls) are injected by editing the profile while the daemon runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pynvml
import pytest

from fakenvml import profile_from_recording
from helpers.fakenvml_daemon import (
    INTERVAL,
    SEED,
    FakeDriver,
    by_gpu,
    complete,
    driver,
    gpu_shape,
    gpu_success,
    libdirs,
    recordings,
    scrape,
    served,
)
from helpers.procs import PYTHON, REPO, exporter, wait_for

# The fake library's fixtures (compiled once per session, profiles recorded from the simulator).
__all__ = ["driver", "libdirs", "recordings", "served"]



class TestParityWithSimulator:
    @pytest.mark.parametrize("profile", ["gb10", "h100x8"])
    def test_fake_library_serves_what_the_simulator_serves(self, profile: str, served) -> None:  # type: ignore[no-untyped-def]
        """The real nvidia-ml-py over the fake library serves the simulator's families and label sets."""
        want_pcie = profile != "gb10"
        with exporter(f"--gpu.simulate={profile}", f"--gpu.seed={SEED}", INTERVAL) as sim:
            simulated = wait_for(lambda: complete(sim.url, want_pcie), 30, 0.3, "the simulator's series")
        with served(profile) as (p, _):
            real = wait_for(lambda: complete(p.url, want_pcie), 30, 0.3, "the fake library's series")
        assert gpu_shape(real) == gpu_shape(simulated)
        assert len(gpu_shape(real)) > 10

    def test_gb10_leaves_out_what_gb10_does_not_report(self, served) -> None:  # type: ignore[no-untyped-def]
        """gb10: memory from unified memory, no NVLink, no power limit, no PCIe throughput, no ECC."""
        with served("gb10") as (p, _):
            fams = scrape(p.url)
        assert [s.labels["memory_source"] for s in fams["spark_exporter_gpu_memory_info"].samples] == ["unified"]
        for absent in ("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_POWER_MGMT_LIMIT",
                       "DCGM_FI_DEV_PCIE_TX_THROUGHPUT", "DCGM_FI_DEV_ECC_SBE_VOL_TOTAL",
                       "DCGM_FI_DEV_FB_RESERVED"):
            assert absent not in fams, absent
        assert "spark_exporter_gpu_process_memory_bytes" in fams
        assert "DCGM_FI_DEV_FB_USED" in fams and "DCGM_FI_DEV_POWER_USAGE" in fams


class TestLostGpu:
    def test_one_lost_gpu_of_eight(self, driver) -> None:  # type: ignore[no-untyped-def]
        """GPU 3 answering GpuIsLost to every call, even its handle: 7 GPUs served, GPU 3 up 0, XID 79 counted."""
        fake = driver("h100x8")
        fake.profile["devices"][3]["lost"] = True
        fake.write()
        with exporter(INTERVAL, env=fake.env) as p:
            fams = wait_for(lambda: (f := scrape(p.url)) and "spark_exporter_gpu_up" in f and f, 30, 0.3, "gpu_up")
        assert gpu_success(fams) == 1.0
        assert by_gpu(fams["spark_exporter_gpu_up"]) == {str(i): (0.0 if i == 3 else 1.0) for i in range(8)}
        assert set(by_gpu(fams["DCGM_FI_DEV_GPU_TEMP"])) == {str(i) for i in range(8) if i != 3}
        xids = {(s.labels["gpu"], s.labels["xid"]): s.value for s in fams["spark_exporter_gpu_xid_errors"].samples}
        assert xids == {("3", "79"): 1.0}

    def test_gpu_lost_while_running_is_counted_once_and_comes_back(self, served) -> None:  # type: ignore[no-untyped-def]
        """A GPU lost while served (driver XID 79 event plus GpuIsLost) counts one XID 79 and returns when found."""
        with served("h100x8") as (p, fake):
            fake.profile["devices"][5].update(lost=True, xids=[79])
            fake.write()
            lost = wait_for(lambda: (f := scrape(p.url)) and by_gpu(f["spark_exporter_gpu_up"]).get("5") == 0.0
                            and f, 30, 0.3, "GPU 5 marked lost")
            assert gpu_success(lost) == 1.0
            assert {(s.labels["gpu"], s.labels["xid"]): s.value
                    for s in lost["spark_exporter_gpu_xid_errors"].samples} == {("5", "79"): 1.0}
            fake.profile["devices"][5]["lost"] = False
            fake.write()
            back = wait_for(lambda: (f := scrape(p.url)) and by_gpu(f["spark_exporter_gpu_up"]).get("5") == 1.0
                            and f, 30, 0.3, "GPU 5 found again")
            log = p.log()
        assert "5" in by_gpu(back["DCGM_FI_DEV_GPU_TEMP"])
        assert [s.value for s in back["spark_exporter_gpu_xid_errors"].samples] == [1.0]
        assert "event=nvml_reset" not in log


class TestErrorAnswers:
    def test_persistent_unknown_on_one_call_leaves_out_one_field(self, served) -> None:  # type: ignore[no-untyped-def]
        """Unknown from nvmlDeviceGetPowerUsage on GPU 1: its power is left out, all else served, no re-init."""
        with served("h100x8") as (p, fake):
            fake.profile["devices"][1]["errors"]["nvmlDeviceGetPowerUsage"] = pynvml.NVML_ERROR_UNKNOWN
            fake.write()
            wait_for(lambda: "1" not in by_gpu(scrape(p.url)["DCGM_FI_DEV_POWER_USAGE"]), 30, 0.3, "power left out")
            for _ in range(5):
                fams = wait_for(lambda: scrape(p.url), 5, 0.35)
                assert gpu_success(fams) == 1.0
                assert set(by_gpu(fams["DCGM_FI_DEV_POWER_USAGE"])) == {str(i) for i in range(8)} - {"1"}
                assert set(by_gpu(fams["DCGM_FI_DEV_GPU_TEMP"])) == {str(i) for i in range(8)}
                assert set(by_gpu(fams["spark_exporter_gpu_up"])) == {str(i) for i in range(8)}
            log = p.log()
        assert "event=nvml_reset" not in log and log.count("event=gpu_devices_found") == 1

    def test_memory_info_v2_unknown_falls_back_to_v1(self, served) -> None:  # type: ignore[no-untyped-def]
        """nvmlDeviceGetMemoryInfo_v2 answering Unknown: total/free/used come from the v1 call; reserved left out."""
        with served("h100x8") as (p, fake):
            for d in fake.profile["devices"]:
                v = d["values"]
                d["values"].update({"nvmlDeviceGetMemoryInfo.total": v["nvmlDeviceGetMemoryInfo_v2.total"],
                                    "nvmlDeviceGetMemoryInfo.free": v["nvmlDeviceGetMemoryInfo_v2.free"],
                                    "nvmlDeviceGetMemoryInfo.used": v["nvmlDeviceGetMemoryInfo_v2.total"]
                                    - v["nvmlDeviceGetMemoryInfo_v2.free"]})
            fake.profile["errors"]["nvmlDeviceGetMemoryInfo_v2"] = pynvml.NVML_ERROR_UNKNOWN
            fake.write()
            fams = wait_for(lambda: (f := scrape(p.url)) and "DCGM_FI_DEV_FB_RESERVED" not in f and f, 30, 0.3,
                            "reserved left out")
        assert gpu_success(fams) == 1.0
        assert set(by_gpu(fams["DCGM_FI_DEV_FB_TOTAL"]).values()) == {81559.0}
        assert len(fams["DCGM_FI_DEV_FB_USED"].samples) == 8

    def test_driver_unloaded_reinitialises_with_backoff_and_recovers(self, served) -> None:  # type: ignore[no-untyped-def]
        """Driver unloaded (Uninitialized, then DriverNotLoaded at init): gpu 0, host metrics stay, then recovery."""
        with served("gb10") as (p, fake):
            fake.profile.update(reload=1, init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
            fake.write()
            fams = wait_for(lambda: (f := scrape(p.url)) and gpu_success(f) == 0.0 and f, 30, 0.3, "gpu scored 0")
            assert "node_load1" in fams and "DCGM_FI_DEV_GPU_TEMP" not in fams
            # Collection runs when scraped, so each poll scrapes: re-initialisation is tried on a scrape.
            wait_for(lambda: scrape(p.url) is not None and "NVMLError_DriverNotLoaded" in p.log(), 30, 0.3,
                     "a failed re-initialisation")
            del fake.profile["init_error"]
            fake.write()
            fams = wait_for(lambda: (f := scrape(p.url)) and "DCGM_FI_DEV_GPU_TEMP" in f and f, 30, 0.3, "recovery")
            log = p.log()
        assert gpu_success(fams) == 1.0
        assert log.count("event=nvml_init_failed") == 1  # logged once, though retried with backoff

    def test_library_error_that_persists_after_reinit_does_not_loop(self, served) -> None:  # type: ignore[no-untyped-def]
        """One call answering Uninitialized for good: one re-initialisation, then only that field is left out."""
        with served("gb10") as (p, fake):
            fake.profile["errors"]["nvmlDeviceGetTemperatureV"] = pynvml.NVML_ERROR_UNINITIALIZED
            fake.write()
            wait_for(lambda: (f := scrape(p.url)) and gpu_success(f) == 1.0 and "DCGM_FI_DEV_GPU_TEMP" not in f
                     and "DCGM_FI_DEV_POWER_USAGE" in f, 30, 0.3, "served without temperature")
            for _ in range(5):
                fams = wait_for(lambda: scrape(p.url), 5, 0.35)
                assert gpu_success(fams) == 1.0 and "DCGM_FI_DEV_SM_CLOCK" in fams
            log = p.log()
        assert log.count("event=nvml_reset") == 1
        assert log.count("event=nvml_error_persists_after_reinit") == 1

    def test_hanging_call_costs_the_deadline_not_the_host_metrics(self, served) -> None:  # type: ignore[no-untyped-def]
        """A call that hangs in the driver scores gpu 0 while host metrics keep being served."""
        with served("gb10") as (p, fake):
            fake.profile["hang"] = {"nvmlDeviceGetPowerUsage": 20}
            fake.write()
            fams = wait_for(lambda: (f := scrape(p.url)) and gpu_success(f) == 0.0 and f, 30, 0.3, "gpu scored 0")
            assert "node_load1" in fams and "DCGM_FI_DEV_GPU_TEMP" not in fams


class TestOldDriver:
    def test_old_driver_serves_every_non_process_series_and_falls_back(self, served, driver) -> None:  # type: ignore[no-untyped-def]
        """No _v3 process calls, clock-event-reasons or TemperatureV call: each served by its older variant."""
        with served("h100x8", "current") as (p, _):
            current = gpu_shape(wait_for(lambda: complete(p.url, True), 30, 0.3, "every series"))
        with served("h100x8", "old") as (p, _):
            old = gpu_shape(wait_for(lambda: complete(p.url, True), 30, 0.3, "every series"))
            log = p.log()
        assert old == current
        assert "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS" in old and "spark_exporter_gpu_process_memory_bytes" in old
        assert "NVMLError_FunctionNotFound" in log or "nvml_function_not_found" in log


class TestRecordOnTheFakeLibrary:
    def test_record_reads_the_driver_through_nvidia_ml_py(self, driver, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        """'spark-exporter gpu record' on the fake library writes the profile's driver, model and answers."""
        fake = driver("gb10")
        out = tmp_path / "rec.json"
        done = subprocess.run([PYTHON, "-m", "spark_exporter", "gpu", "record", f"--output={out}"], cwd=REPO,
                              env={**os.environ, **fake.env}, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        rec = json.loads(out.read_text())
        assert rec["driver"] == "580.95.05" and rec["models"] == ["NVIDIA GB10"] and rec["source"] == "nvml"
        power = [c for c in rec["calls"] if c["fn"] == "nvmlDeviceGetPowerUsage"]
        assert power == [{"fn": "nvmlDeviceGetPowerUsage", "args": [{"gpu": 0}],
                          "value": fake.profile["devices"][0]["values"]["nvmlDeviceGetPowerUsage"]}]
        limit = [c for c in rec["calls"] if c["fn"] == "nvmlDeviceGetPowerManagementLimit"]
        assert limit == [{"fn": "nvmlDeviceGetPowerManagementLimit", "args": [{"gpu": 0}],
                          "error": "NVMLError_NotSupported", "code": pynvml.NVML_ERROR_NOT_SUPPORTED}]


RECORDINGS = sorted((Path(__file__).resolve().parents[1] / "fakenvml" / "recordings").glob("*.json"))


class TestRecordings:
    @pytest.mark.parametrize("source", ["simulator:gb10", "simulator:h100x8", *(str(p) for p in RECORDINGS)])
    def test_fake_library_serves_what_replay_serves(self, source: str, libdirs: dict[str, Path],
                                                    recordings: dict[str, dict[str, Any]], tmp_path: Path) -> None:
        """A recording (of the simulator, or a real GPU's under fakenvml/recordings/) served by the fake
        library through nvidia-ml-py gives the families and label sets that --gpu.replay of it gives."""
        if source.startswith("simulator:"):
            rec = recordings[source.split(":", 1)[1]]
            path = tmp_path / "recording.json"
            path.write_text(json.dumps(rec))
        else:
            path = Path(source)
            rec = json.loads(path.read_text())
        fake = FakeDriver(tmp_path / "profile.json", libdirs["current"], profile_from_recording(rec))
        want_pcie = any(c["fn"] == "nvmlDeviceGetPcieThroughput" and "value" in c for c in rec["calls"])
        with exporter(f"--gpu.replay={path}", INTERVAL) as p:
            replayed = gpu_shape(wait_for(lambda: complete(p.url, want_pcie), 30, 0.3, "replayed series"))
        with exporter(INTERVAL, env=fake.env) as p:
            served = gpu_shape(wait_for(lambda: complete(p.url, want_pcie), 30, 0.3, "fake library series"))
        assert served == replayed
        assert "spark_exporter_gpu_up" in served


FACADE_PROBE = """
import json, sys
import pynvml
from spark_exporter.nvml.facade import Nvml
nvml = Nvml(pynvml)
nvml.ensure_initialized()
h = nvml.call("nvmlDeviceGetHandleByIndex", 0)
try:
    pynvml.nvmlDeviceGetComputeRunningProcesses(h)
    raised = None
except Exception as e:
    raised = type(e).__name__
unversioned = nvml.query("nvmlDeviceGetComputeRunningProcesses", h)
chained = nvml.query_chain(("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetComputeRunningProcesses_v2"), h)
print(json.dumps({"raised": raised, "unversioned": unversioned, "chained": [p.pid for p in chained]}))
"""


class TestLibraryMismatch:
    def test_nvml_library_mismatch_error_is_a_missing_variant(self, driver) -> None:  # type: ignore[no-untyped-def]
        """On a driver without _v3, nvidia-ml-py raises NVMLLibraryMismatchError; the facade takes it as missing."""
        fake = driver("gb10", "old")
        done = subprocess.run([PYTHON, "-c", FACADE_PROBE], cwd=REPO, env={**os.environ, **fake.env},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout.strip().splitlines()[-1])
        pids = [p["pid"] for p in fake.profile["devices"][0]["processes"]]
        assert result == {"raised": "NVMLLibraryMismatchError", "unversioned": None, "chained": pids}
        assert pids
