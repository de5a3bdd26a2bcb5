"""Bounded reads of /proc, /sys, udev and text files: the one way the package reads a file it did not write.

Every read has a size cap, so a broken or hostile root (``--path.procfs`` where ``meminfo`` is a link
to ``/dev/zero``, a FIFO, a driver that never ends a sysfs file) costs at most the cap in memory and
time, even in a collector thread that has already overrun its deadline. Files are opened with
``O_NONBLOCK`` so a FIFO or a terminal cannot block the open, and anything but a regular file (a FIFO,
``/dev/zero``, a directory) is refused after ``fstat`` and before the first read. (procfs and sysfs
files are regular files.) Files the operator names in the configuration go through
``spark_exporter.settings.files.read_text_file``, which applies the same rules; a test
(``tests/unit/test_guarded_reads.py``) fails on any other read in the package.

os.open/os.read rather than open(): collectors read hundreds of small attributes per collection and
the buffered text layer costs several times the syscalls themselves.
"""

from __future__ import annotations

import errno
import os
import stat

#: Whole-file cap (bytes) for /proc tables. The largest ones a host serves (mountinfo with thousands of
#: mounts, /proc/net/* on a busy router, 256-CPU /proc/stat) stay well below it.
MAX_FILE = 4 << 20
#: Cap (bytes) for one sysfs attribute or udev database entry; the kernel limits attributes to a page.
MAX_ATTR = 64 << 10
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


class FileTooLarge(OSError):
    """A file is longer than its cap: treated like an unreadable file, never read to its end."""

    def __init__(self, path: str, limit: int) -> None:
        super().__init__(errno.EFBIG, f"file larger than {limit} bytes", path)


class NotRegularFile(OSError):
    """A FIFO, device, socket or directory where a file was expected: refused without a read."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", path)


def _open_regular(path: str) -> int:
    """A descriptor for the regular file ``path`` (O_NONBLOCK, so a FIFO cannot block the open)."""
    fd = os.open(path, _FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_bytes(path: str, limit: int = MAX_FILE) -> bytes:
    """All of the regular file ``path``, at most ``limit`` bytes.

    Raises OSError: FileTooLarge past the cap, NotRegularFile for a FIFO, device or directory.
    """
    fd = _open_regular(path)
    try:
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(limit + 1 - total, 1 << 16))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(path, limit)
    finally:
        os.close(fd)


def read_text(path: str, limit: int = MAX_FILE) -> str:
    """``read_bytes`` decoded as UTF-8 (undecodable bytes replaced). Raises OSError."""
    return read_bytes(path, limit).decode("utf-8", errors="replace")


def read_tail(path: str, limit: int) -> bytes:
    """The last ``limit`` bytes (at most) of the regular file ``path``, e.g. a log. Raises OSError."""
    fd = _open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            os.lseek(fd, size - limit, os.SEEK_SET)
        chunks: list[bytes] = []
        total = 0
        while total < limit and (chunk := os.read(fd, min(limit - total, 1 << 16))):
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_attr(path: str, limit: int = MAX_ATTR) -> str | None:
    """One sysfs attribute, trailing newline and blanks stripped; None when it cannot be read.

    Drivers answer EINVAL, EIO, ENODATA, EOPNOTSUPP or EPERM for values they cannot report, and
    node_exporter leaves such a value out; so does this. A value past the cap is left out too.
    """
    try:
        return read_text(path, limit).strip()
    except OSError:
        return None


def read_int(path: str) -> int | None:
    """A sysfs attribute holding one integer (decimal, or 0x-prefixed hex); None if unreadable or not one."""
    text = read_attr(path)
    if not text:
        return None
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 10)  # "010": sysfs means decimal
        except ValueError:
            return None


def list_dir(path: str) -> list[str]:
    """Sorted entries of a directory; [] when it does not exist or cannot be listed."""
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []
