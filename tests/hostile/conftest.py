"""The hostile suite: real processes on loopback attacked in bounded ways (counts and seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

# The shared process helpers (tests/procs.py) live one directory up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
