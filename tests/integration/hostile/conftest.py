"""The hostile suite, third round: real processes on loopback attacked in bounded ways (counts and seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

# Shared helpers: tests/procs.py and the first rounds' tests/hostile/rawhttp.py (until the test move lands
# they live there; afterwards wherever tests/helpers/ puts them).
_TESTS = Path(__file__).resolve().parents[2]
for _p in (_TESTS / "helpers", _TESTS / "hostile", _TESTS / "integration" / "hostile", _TESTS):
    if _p.is_dir() and str(_p) not in sys.path:
        sys.path.insert(0, str(_p))
