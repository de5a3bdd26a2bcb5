"""GPM profiling fields through the real nvidia-ml-py over the fake libnvidia-ml.so.1 (tests/fakenvml/).

The fake library answers nvmlGpmQueryDeviceSupport, nvmlGpmSampleAlloc/Get/Free and nvmlGpmMetricsGet with
nvml.h's own structures, from its profile's "gpm" entry per device (recorded from the simulator here); the
daemon must serve exactly what the profile programs, scaled to DCGM's units.
"""

from __future__ import annotations

from typing import Any

import pytest

from helpers.fakenvml_daemon import INTERVAL, by_gpu, driver, gpu_success, libdirs, recordings, scrape, served
from helpers.procs import exporter, wait_for
from spark_exporter.collectors.gpu.readings import READERS
from spark_exporter.nvml.catalogue import load_catalogue
from spark_exporter.nvml.gpm import GPM_SOURCES

PROF = {f.name: f for f in load_catalogue(READERS) if f.source in GPM_SOURCES}

pytestmark = pytest.mark.integration
# The fake library's fixtures (compiled once per session, profiles recorded from the simulator).
__all__ = ["driver", "libdirs", "recordings", "served"]


def programmed(profile: dict[str, Any], gpu: int, field: str) -> float | None:
    """The profile's value for ``field`` on ``gpu``, in DCGM's unit; None if it programs none."""
    f = PROF[field]
    value = profile["devices"][gpu].get("gpm", {}).get("metrics", {}).get(str(GPM_SOURCES[f.source][0]))
    return None if value is None else f.scale(float(value))


def profiled(url: str, gpus: int) -> dict[str, Any] | None:
    """A successful scrape with SM activity for ``gpus`` GPUs (a second sample was taken); else None."""
    fams = scrape(url)
    sm = fams.get("DCGM_FI_PROF_SM_ACTIVE")
    return fams if gpu_success(fams) == 1.0 and sm is not None and len(sm.samples) == gpus else None


class TestGpmOnTheFakeLibrary:
    def test_served_fields_equal_the_programmed_activity_on_eight_h100s(self, served) -> None:  # type: ignore[no-untyped-def]
        """Every profiling field the H100 profile programs is served for all 8 GPUs, equal to the programmed
        value (ratios in [0, 1]); nothing is served that the profile does not program."""
        with served("h100x8") as (p, fake):
            fams = wait_for(lambda: profiled(p.url, 8), 30, 0.3, "the profiling fields")
        checked = 0
        for name in PROF:
            want = {str(g): programmed(fake.profile, g, name) for g in range(8)}
            want = {g: v for g, v in want.items() if v is not None}
            if not want:
                assert name not in fams, name
                continue
            assert by_gpu(fams[name]) == pytest.approx(want, rel=1e-12), name
            if PROF[name].multiplier == 0.01:
                assert all(0.0 <= v <= 1.0 for v in want.values()), name
            checked += 1
        assert checked == len(PROF)  # the H100 profile programs every one of them

    def test_a_device_without_gpm_serves_none_of_them(self, driver) -> None:  # type: ignore[no-untyped-def]
        """GPUs whose profile says GPM is unsupported serve no profiling field at all (not 0); the others do."""
        fake = driver("h100x8")
        for gpu in (2, 5):
            fake.profile["devices"][gpu]["gpm"]["supported"] = False
        fake.write()
        with exporter(INTERVAL, env=fake.env) as p:
            fams = wait_for(lambda: profiled(p.url, 6), 30, 0.3, "the profiling fields of 6 GPUs")
        assert len(fams["spark_exporter_gpu_up"].samples) == 8
        for name in PROF:
            assert set(by_gpu(fams[name])) == {"0", "1", "3", "4", "6", "7"}, name

    def test_first_scrape_serves_none(self, driver) -> None:  # type: ignore[no-untyped-def]
        """The first scrape after start has no interval yet: no profiling field (the rest is served); the next
        scrape has them."""
        fake = driver("h100x8")
        with exporter(INTERVAL, env=fake.env) as p:
            first = scrape(p.url)
            assert gpu_success(first) == 1.0 and "DCGM_FI_DEV_GPU_TEMP" in first
            assert not set(PROF) & set(first)
            wait_for(lambda: profiled(p.url, 8), 30, 0.3, "the profiling fields")
