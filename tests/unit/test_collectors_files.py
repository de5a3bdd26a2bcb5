"""Bounded reads of /proc, /sys and the root filesystem: no collector can be made to read without limit."""

from __future__ import annotations

import os
import resource
import shutil
from pathlib import Path

import pytest

from helpers.host import FIXTURE, make
from spark_exporter.collectors import _files, load_all

# Collectors that read no file under the roots: each asks the kernel through a system call. Every other
# registered collector (found by discovery, so a new one is covered without editing this list) is run on a
# tree whose every file is a link to /dev/zero.
NO_FILES = {"timex": "adjtimex(2)", "uname": "uname(2)", "systemd": "D-Bus (the system bus socket)"}
FILE_READERS = tuple(sorted(set(load_all()) - set(NO_FILES)))


def extra_flags(name: str, tree: Path) -> tuple[str, ...]:
    """What a collector needs to read at all: the GPU collector a simulated GPU (it still reads /proc),
    the textfile collector the tree's directory of ``*.prom`` files."""
    if name == "gpu":
        return ("--gpu.simulate=gb10",)
    if name == "textfile":
        return (f"--textfile.directory={tree / 'textfile'}",)
    return ()


@pytest.fixture(scope="module")
def zero_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the fixture tree whose every /proc, /sys and rootfs file is a link to /dev/zero, plus a
    textfile directory holding one such link. Shared: the collectors only read it."""
    tree = tmp_path_factory.mktemp("zero") / "host"
    shutil.copytree(FIXTURE, tree, symlinks=True)
    for path in [*(tree / "proc").rglob("*"), *(tree / "sys").rglob("*"), *(tree / "rootfs").rglob("*")]:
        if path.is_file() and not path.is_symlink():
            path.unlink()
            path.symlink_to("/dev/zero")
    (tree / "textfile").mkdir()
    (tree / "textfile" / "a.prom").symlink_to("/dev/zero")
    return tree


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
    def test_every_collector_is_covered(self) -> None:
        """Every registered collector is either run below or named with the system call it uses instead."""
        assert set(FILE_READERS) | set(NO_FILES) == set(load_all())
        assert {"cpufreq", "dmi", "edac", "nvme", "powersupplyclass", "thermal_zone", "udp_queues"} <= set(FILE_READERS)

    @pytest.mark.parametrize("name", FILE_READERS)
    def test_proc_file_linked_to_dev_zero_fails_bounded(self, zero_tree: Path, name: str) -> None:
        """With every /proc, /sys and rootfs file a link to /dev/zero, a collector fails or serves little,
        memory bounded."""
        tree = zero_tree
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
        collector = make(name, *extra_flags(name, tree), root=tree)
        try:
            list(collector.collect())
        except (OSError, ValueError):
            pass  # failing is right: the collection loop scores it and serves the others
        finally:
            collector.close()
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        assert grown < 64 * 1024, f"{name} grew the process by {grown} KiB"
