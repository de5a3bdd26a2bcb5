"""The public reference data the tests compare against: ``tests/reference/`` (sources and licences in its
SOURCES.md). It is part of the repository, so nothing outside the clone is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


def reference_file(relative: str) -> Path:
    """The path of ``tests/reference/<relative>``; fails the test with one line when the file is missing."""
    path = REFERENCE / relative
    if not path.is_file():
        pytest.fail(f"reference data missing: {path} (it is part of the repository: see "
                    f"{REFERENCE / 'SOURCES.md'})", pytrace=False)
    return path
