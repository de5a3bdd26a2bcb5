"""Bounded reads of /proc, /sys and udev files: the one way host collectors read a file.

Every read has a size cap, so a broken or hostile root (``--path.procfs`` where ``meminfo`` is a link
to ``/dev/zero``, a FIFO, a driver that never ends a sysfs file) costs at most the cap in memory and
time, even in a collector thread that has already overrun its deadline. Files are opened with
``O_NONBLOCK`` so a FIFO or a terminal fails at once instead of blocking the collector.

os.open/os.read rather than open(): collectors read hundreds of small attributes per collection and
the buffered text layer costs several times the syscalls themselves.
"""

from __future__ import annotations

import errno
import os

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


def read_bytes(path: str, limit: int = MAX_FILE) -> bytes:
    """All of ``path``, at most ``limit`` bytes. Raises OSError (FileTooLarge past the cap)."""
    fd = os.open(path, _FLAGS)
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
