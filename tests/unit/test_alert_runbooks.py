"""Every alert in rules/*.yml is explained: three annotations, and a runbook section in docs/alerts.md.

The list of alerts comes from the rule files and the sections from the document's headings, so an alert
added without its runbook fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "rules").glob("*.yml"))
DOC = REPO / "docs" / "alerts.md"
RUNBOOK_BASE = "https://github.com/spark-exporter/spark-exporter/blob/main/docs/alerts.md#"
PARTS = ("**What it means.**", "**How to confirm.**", "**What to do.**")


def alert_rules() -> list[dict[str, Any]]:
    found = [rule for path in RULES for group in yaml.safe_load(path.read_text())["groups"]
             for rule in group["rules"] if "alert" in rule]
    assert found, "no alerting rules in rules/*.yml"
    return found


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections(text: str) -> dict[str, str]:
    """Anchor of every ``###`` heading -> the text up to the next heading of level 3 or above."""
    out: dict[str, str] = {}
    for block in re.split(r"^(?=#{1,3} )", text, flags=re.M):
        first, _, body = block.partition("\n")
        if first.startswith("### "):
            out[github_anchor(first[4:])] = body
    return out


RUNBOOK = sections(DOC.read_text())


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
class TestEveryAlert:
    def test_has_summary_description_and_runbook_url(self, rule: dict[str, Any]) -> None:
        """The alert carries non-empty summary, description and runbook_url annotations."""
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook_url"):
            assert str(annotations.get(key, "")).strip(), f"{rule['alert']}: no {key} annotation"

    def test_runbook_url_points_at_its_own_section(self, rule: dict[str, Any]) -> None:
        """runbook_url is docs/alerts.md#<alert name in lower case>, and that heading exists."""
        anchor = rule["alert"].lower()
        assert rule["annotations"]["runbook_url"] == RUNBOOK_BASE + anchor
        assert anchor in RUNBOOK, f"docs/alerts.md has no '### {rule['alert']}' section"

    def test_section_says_what_it_means_how_to_confirm_and_what_to_do(self, rule: dict[str, Any]) -> None:
        """The alert's section has its three parts, in order, each followed by text."""
        body = RUNBOOK.get(rule["alert"].lower(), "")
        positions = [body.find(part) for part in PARTS]
        missing = [part for part, at in zip(PARTS, positions, strict=True) if at < 0]
        assert not missing, f"{rule['alert']}: missing {missing}"
        assert positions == sorted(positions), f"{rule['alert']}: parts out of order"
        for part in PARTS:
            after = body.split(part, 1)[1].split("**", 1)[0]
            assert after.strip(), f"{rule['alert']}: {part} is empty"


class TestTheCheck:
    def test_a_section_without_its_parts_is_found(self) -> None:
        """The section parser sees a heading whose body lacks the three parts, so the test above can fail."""
        parsed = sections("## Runbook\n\n### SparkX\n\nsome text\n\n### SparkY\n\n**What it means.** y\n")
        assert set(parsed) == {"sparkx", "sparky"}
        assert PARTS[0] not in parsed["sparkx"] and PARTS[0] in parsed["sparky"]

    def test_every_runbook_section_belongs_to_an_alert(self) -> None:
        """No runbook section is left over for an alert that no longer exists."""
        names = {r["alert"].lower() for r in alert_rules()}
        parts = {a for a, body in RUNBOOK.items() if PARTS[0] in body}
        assert parts - names == set()
