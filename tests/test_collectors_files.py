"""Bounded reads of /proc and /sys (issue 11 item 2): no host collector can be made to read without limit."""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

import pytest
from test_collectors_host import FIXTURE, make

from spark_exporter.collectors import _files

# Every host collector that reads from the fixture tree (gpu reads NVML, not files).
HOST = (
    "arp",
    "conntrack",
    "cpu",
    "diskstats",
    "entropy",
    "filefd",
    "hwmon",
    "infiniband",
    "loadavg",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "pressure",
    "schedstat",
    "sockstat",
    "softnet",
    "stat",
    "time",
    "vmstat",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    dst = tmp_path / "host"
    shutil.copytree(FIXTURE, dst, symlinks=True)
    return dst


class TestReadBytes:
    def test_reads_a_whole_small_file(self, tmp_path: Path) -> None:
        """A file under the cap is returned whole."""
        f = tmp_path / "a"
        f.write_bytes(b"x" * 100_000)
        assert _files.read_bytes(str(f)) == b"x" * 100_000

    def test_file_past_the_cap_raises(self, tmp_path: Path) -> None:
        """One byte over the cap raises FileTooLarge (an OSError, errno EFBIG) instead of returning data."""
        f = tmp_path / "a"
        f.write_bytes(b"x" * 1025)
        with pytest.raises(_files.FileTooLarge) as exc:
            _files.read_bytes(str(f), limit=1024)
        assert isinstance(exc.value, OSError) and exc.value.filename == str(f)
        assert _files.read_bytes(str(f), limit=1025) == b"x" * 1025

    def test_dev_zero_is_refused_before_a_read(self) -> None:
        """An endless character device is not a regular file: refused without reading a byte."""
        with pytest.raises(_files.NotRegularFile):
            _files.read_bytes("/dev/zero", limit=1 << 20)

    def test_fifo_without_writer_does_not_block(self, tmp_path: Path) -> None:
        """A FIFO is opened non-blocking and refused as not a regular file instead of hanging the collector."""
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        with pytest.raises(_files.NotRegularFile):
            _files.read_bytes(str(fifo))

    def test_read_tail_gives_the_last_bytes(self, tmp_path: Path) -> None:
        """read_tail returns at most the last ``limit`` bytes, and refuses a FIFO."""
        f = tmp_path / "log"
        f.write_bytes(b"a" * 5000 + b"last line\n")
        assert _files.read_tail(str(f), 10) == b"last line\n"
        assert _files.read_tail(str(f), 1 << 20) == b"a" * 5000 + b"last line\n"
        os.mkfifo(tmp_path / "fifo")
        with pytest.raises(_files.NotRegularFile):
            _files.read_tail(str(tmp_path / "fifo"), 10)

    def test_attr_helpers_leave_out_what_cannot_be_read(self, tmp_path: Path) -> None:
        """read_attr/read_int give None for a missing file, an oversized file and a non-number."""
        (tmp_path / "n").write_text("0x10\n")
        (tmp_path / "t").write_text("N/A\n")
        assert _files.read_int(str(tmp_path / "n")) == 16
        assert _files.read_int(str(tmp_path / "t")) is None
        assert _files.read_attr(str(tmp_path / "missing")) is None
        assert _files.read_attr("/dev/zero") is None


class TestHostileRoots:
    @pytest.mark.parametrize("name", HOST)
    def test_proc_file_linked_to_dev_zero_fails_bounded(self, tree: Path, name: str) -> None:
        """With every /proc and /sys file a link to /dev/zero, a collector fails or serves little, memory bounded."""
        for path in [*(tree / "proc").rglob("*"), *(tree / "sys").rglob("*")]:
            if path.is_file() and not path.is_symlink():
                path.unlink()
                path.symlink_to("/dev/zero")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
        collector = make(name, root=tree)
        try:
            list(collector.collect())
        except (OSError, ValueError):
            pass  # failing is right: the collection loop scores it and serves the others
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        assert grown < 64 * 1024, f"{name} grew the process by {grown} KiB"
