"""Process memory and CPU as the kernel reports them, for bounding an attacked process."""

from __future__ import annotations

import os


def _status(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {key} for {pid}")


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` now (VmRSS), in bytes."""
    return _status(pid, "VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """The highest resident set size ``pid`` has had (VmHWM), in bytes."""
    return _status(pid, "VmHWM")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

