"""The packaged rule files and their promtool unit-test files, loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from helpers.procs import REPO

RULES_DIR = REPO / "rules"


RULE_TESTS_DIR = RULES_DIR / "tests"


def rule_files() -> list[Path]:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert files, f"no rule files in {RULES_DIR}"
    return files


def rule_test_files() -> list[Path]:
    files = sorted(RULE_TESTS_DIR.glob("*.yml"))
    assert files, f"no rule tests in {RULE_TESTS_DIR}"
    return files


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def all_rules() -> list[dict[str, Any]]:
    return [rule for f in rule_files() for group in load(f)["groups"] for rule in group["rules"]]
