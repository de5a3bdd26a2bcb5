"""The whole daemon over the fake libnvidia-ml.so.1 (tests/fakenvml/): compiled libraries, simulator
recordings as profiles, a profile file the library re-reads, and scrape helpers; shared by the fake-driver
test modules."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric

from fakenvml import compile_library, profile_from_recording
from helpers.procs import exporter, http_get, parse_metrics, wait_for
from spark_exporter.commands.gpu import record
from spark_exporter.exporter.daemon import load_config

SEED = 42
OLD_DRIVER = ("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetGraphicsRunningProcesses_v3",
              "nvmlDeviceGetCurrentClocksEventReasons", "nvmlDeviceGetTemperatureV")
INTERVAL = "--collect.min-age=300ms"


@pytest.fixture(scope="session")
def libdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fake library compiled twice: a current driver, and an old one without the newer symbols."""
    root = tmp_path_factory.mktemp("fakenvml")
    return {"current": compile_library(root / "current"), "old": compile_library(root / "old", OLD_DRIVER)}


@pytest.fixture(scope="session")
def recordings() -> dict[str, dict[str, Any]]:
    """Recordings of the simulator (seed 42) for each profile the fake library serves."""
    return {p: record(load_config([f"--gpu.simulate={p}", f"--gpu.seed={SEED}"], {})) for p in ("gb10", "h100x8")}


class FakeDriver:
    """A profile file the fake library re-reads whenever it changes, and the environment that loads it."""

    def __init__(self, path: Path, libdir: Path, profile: dict[str, Any]) -> None:
        self.path, self.libdir, self.profile = path, libdir, profile
        self.write()

    def write(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.profile))
        tmp.replace(self.path)

    @property
    def env(self) -> dict[str, str]:
        return {"LD_LIBRARY_PATH": str(self.libdir), "FAKENVML_PROFILE": str(self.path)}


@pytest.fixture
def driver(tmp_path: Path, libdirs: dict[str, Path], recordings: dict[str, dict[str, Any]]):  # type: ignore[no-untyped-def]
    def make(profile: str, lib: str = "current") -> FakeDriver:
        return FakeDriver(tmp_path / f"{profile}.json", libdirs[lib], profile_from_recording(recordings[profile]))
    return make


def scrape(url: str) -> dict[str, Metric]:
    return parse_metrics(http_get(url + "/metrics")[1].decode())


def gpu_success(fams: dict[str, Metric]) -> float | None:
    ok = {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}
    return ok.get("gpu")


def gpu_shape(fams: dict[str, Metric]) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """GPU family name -> its label sets (Hostname and the simulation marker left out)."""
    out: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for name, fam in fams.items():
        if not name.startswith(("DCGM_", "spark_exporter_gpu_")) or name == "spark_exporter_gpu_simulated_info":
            continue
        out[name] = {tuple(sorted((k, v) for k, v in s.labels.items() if k != "Hostname")) for s in fam.samples}
    return out


def complete(url: str, want_pcie: bool) -> dict[str, Metric] | None:
    """A scrape with the gpu collector successful, GPM's profiling fields for every GPU (they need a second
    scrape) and, if asked, a PCIe sample of every GPU; else None."""
    fams = scrape(url)
    if gpu_success(fams) != 1.0:
        return None
    pcie = fams.get("DCGM_FI_DEV_PCIE_TX_THROUGHPUT")
    sm = fams.get("DCGM_FI_PROF_SM_ACTIVE")
    gpus = len(fams["spark_exporter_gpu_up"].samples)
    if sm is None or len(sm.samples) != gpus:
        return None
    return fams if not want_pcie or (pcie is not None and len(pcie.samples) == gpus) else None


def by_gpu(fam: Metric) -> dict[str, float]:
    return {s.labels["gpu"]: s.value for s in fam.samples}


@pytest.fixture
def served(driver):  # type: ignore[no-untyped-def]
    """Start the daemon on the fake library for a profile; wait until the GPU collector has succeeded."""
    @contextlib.contextmanager
    def start(profile: str, lib: str = "current", *flags: str) -> Iterator[tuple[Any, FakeDriver]]:
        fake = driver(profile, lib)
        with exporter(INTERVAL, *flags, env=fake.env) as p:
            wait_for(lambda: gpu_success(scrape(p.url)) == 1.0, 30, 0.3, "the gpu collector on the fake library")
            yield p, fake
    return start
