"""Golden output of the gpu collector for the gb10 and h100x8 profiles, in-process and end to end."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_gpu_helpers import Clock, make_collector, write_meminfo

from procs import exporter, http_get, wait_for
from spark_exporter.exporter.exposition import render
from spark_exporter.nvml.background import WatchedDevice
from spark_exporter.nvml.sim import SimulatedNvml

GOLDEN = Path(__file__).parent / "golden"
PROFILES = ("gb10", "h100x8")
SEED = 42


def golden_text(profile: str, procfs: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The collector's exposition for ``profile`` at a fixed instant, host name and meminfo."""
    monkeypatch.setattr(socket, "gethostname", lambda: "spark-01")
    clock = Clock()
    c = make_collector(SimulatedNvml(profile, seed=SEED, clock=clock), procfs, clock=clock)
    try:
        c.collect()
        if c.pcie is not None and c._devices is not None:  # the sampler's cadence, made synchronous
            c.pcie.sample_once([WatchedDevice(d.handle, d.uuid) for d in c._devices])
        clock.advance(15)  # one scrape interval: GPM's profiling fields difference two samples
        return render(list(c.collect())).decode()
    finally:
        c.close()


def series(text: str, ignore: tuple[str, ...] = ()) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """(sample name, sorted labels) of every GPU sample, dropping ``ignore`` labels."""
    out = []
    for fam in text_string_to_metric_families(text):
        if not (fam.name.startswith("DCGM_") or fam.name.startswith("spark_exporter_gpu_")):
            continue
        for s in fam.samples:
            out.append((s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ignore))))
    return out


class TestGolden:
    @pytest.mark.parametrize("profile", PROFILES)
    def test_exposition_matches_golden_file(self, profile: str, tmp_path: Path, update_golden: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
        """The rendered bytes equal tests/golden/gpu_PROFILE.txt (rewrite with pytest --update-golden)."""
        text = golden_text(profile, write_meminfo(tmp_path / "proc"), monkeypatch)
        path = GOLDEN / f"gpu_{profile}.txt"
        if update_golden:
            path.write_text(text)
        assert text == path.read_text()

    @pytest.mark.parametrize("profile", PROFILES)
    def test_every_series_is_unique(self, profile: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """No (name, labels) pair appears twice in the output."""
        found = series(golden_text(profile, write_meminfo(tmp_path / "proc"), monkeypatch))
        assert len(found) == len(set(found)) > 0


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
