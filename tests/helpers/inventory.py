"""Inventory fixtures (tests/fixtures/inventory/) and the packaged rules directory."""

from __future__ import annotations

from helpers.procs import REPO

FIXTURES = REPO / "tests" / "fixtures" / "inventory"


TWO_NODES = FIXTURES / "two-nodes.yml"


REPO_RULES = str(REPO / "rules" / "*.yml")
