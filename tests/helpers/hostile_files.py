"""Hostile configuration files (malformed YAML, alias bombs, FIFOs, /dev/zero, huge, not UTF-8) and the
check that each is refused."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from spark_exporter.settings import (
    MAX_FILE_BYTES,
)


def check_config(out: str) -> dict[str, tuple[str, str]]:
    """Parse --check-config output: key -> (value, source)."""
    parsed = {}
    for line in out.splitlines():
        m = re.fullmatch(r"([^=]+)=(.*?)  # (.+)", line)
        if m:
            parsed[m.group(1)] = (m.group(2), m.group(3))
    return parsed


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def _directory(path: Path) -> None:
    path.mkdir()


def _not_utf8(path: Path) -> None:
    path.write_bytes(b"key: \xff\xfe\n")


def _deep(path: Path) -> None:
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")


def _alias_bomb(path: Path) -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path.write_text("\n".join(lines) + "\n")


def _huge(path: Path) -> None:
    with open(path, "w") as fh:
        fh.write("# " + "x" * (MAX_FILE_BYTES + 10) + "\n")


MALFORMED: dict[str, tuple[Callable[[Path], None], str]] = {
    "fifo": (_fifo, "not a regular file"),
    "dev-zero": (_dev_zero, "not a regular file"),
    "directory": (_directory, "not a regular file"),
    "not-utf8": (_not_utf8, "not UTF-8 text"),
    "deep": (_deep, "nested deeper than"),
    "alias-bomb": (_alias_bomb, "once aliases are expanded"),
    "huge": (_huge, "larger than the limit"),
}
