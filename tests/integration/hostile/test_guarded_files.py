"""Files that are not what their path promises, against the real exporter: /dev/zero and a FIFO as meminfo."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.procs import exporter, http_get, parse_metrics, tempdir
from helpers.procstat import rss_bytes

RSS_LIMIT = 150 << 20  # bytes: the exporter under attack stays below this


@contextmanager
def procfs_with_meminfo(kind: str) -> Iterator[Path]:
    """A --path.procfs tree whose meminfo is ``/dev/zero`` (a link) or a FIFO nobody writes."""
    with tempdir("procfs") as d:
        proc = d / "proc"
        (proc / "sys" / "kernel").mkdir(parents=True)
        (proc / "sys" / "kernel" / "pid_max").write_text("4194304\n")
        if kind == "zero":
            (proc / "meminfo").symlink_to("/dev/zero")
        else:
            os.mkfifo(proc / "meminfo")
        yield proc


class TestMeminfoIsNotAFile:
    def _scrape_twice(self, kind: str, *flags: str) -> None:
        with procfs_with_meminfo(kind) as proc, exporter(
                f"--path.procfs={proc}", "--gpu.simulate=gb10", "--collect.min-age=0s", *flags) as p:
            for _ in range(2):
                status, body, _ = http_get(p.url + "/metrics", timeout=20)
                assert status == 200
                fams = parse_metrics(body.decode())
                # The GPU is still served; only its host-memory figures are left out.
                assert fams["DCGM_FI_DEV_GPU_TEMP"].samples
                assert "DCGM_FI_DEV_FB_FREE" not in fams or not fams["DCGM_FI_DEV_FB_FREE"].samples
            assert rss_bytes(p.popen.pid) < RSS_LIMIT
            assert "Traceback" not in p.log() and "MemoryError" not in p.log()

    def test_dev_zero_as_meminfo_costs_no_memory(self) -> None:
        """/dev/zero as meminfo is refused before a read: scrapes answer, GPU memory left out, RSS < 150 MB."""
        self._scrape_twice("zero")

    def test_dev_zero_as_meminfo_with_the_meminfo_collector_off(self) -> None:
        """With only the GPU collector reading meminfo, /dev/zero still costs nothing."""
        self._scrape_twice("zero", "--no-collector.meminfo")

    def test_a_fifo_as_meminfo_blocks_nothing(self) -> None:
        """A FIFO nobody writes as meminfo neither blocks the GPU collector nor a later scrape."""
        self._scrape_twice("fifo")
