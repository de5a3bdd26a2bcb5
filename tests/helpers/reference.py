"""Where the reference data lives: ``$SPARK_EXPORTER_REFERENCE``, else ``../shared/reference`` next to the clone.

A module of its own (not conftest.py) so test modules can import it: tests/ and tests/hostile/ each have a
conftest.py, and ``import conftest`` would get whichever was loaded first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

from helpers.procs import REPO

REFERENCE_ENV = "SPARK_EXPORTER_REFERENCE"
DEFAULT_REFERENCE = REPO.parent / "shared" / "reference"


def reference_dir() -> Path:
    """The reference data directory: ``$SPARK_EXPORTER_REFERENCE``, else ``../shared/reference``.

    A git worktree one level further down (``wt/NAME`` next to ``shared``) finds ``../../shared/reference``.
    """
    if os.environ.get(REFERENCE_ENV):
        return Path(os.environ[REFERENCE_ENV])
    worktree = REPO.parent.parent / "shared" / "reference"
    return worktree if not DEFAULT_REFERENCE.is_dir() and worktree.is_dir() else DEFAULT_REFERENCE


def missing(path: Path) -> NoReturn:
    """Fail the test with one line naming the missing reference file and how to point at the data."""
    source = f"${REFERENCE_ENV}" if os.environ.get(REFERENCE_ENV) else f"{DEFAULT_REFERENCE} (the default)"
    pytest.fail(f"reference data missing: {path} not found in {source}; set {REFERENCE_ENV} to the "
                "directory holding the reference data (the project's shared/reference)", pytrace=False)
