"""Golden output of the gpu collector for the gb10 and h100x8 profiles, in-process and end to end."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from helpers.gpu import GOLDEN, SEED, Clock, make_collector, series, write_meminfo
from spark_exporter.exporter.exposition import render
from spark_exporter.nvml.background import WatchedDevice
from spark_exporter.nvml.sim import SimulatedNvml

PROFILES = ("gb10", "h100x8")


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


