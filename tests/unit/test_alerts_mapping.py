"""How the API turns Prometheus' /api/v1/alerts entries into its own alert rows, and how it sorts them."""

from __future__ import annotations

from typing import Any

from spark_exporter.query import mapping
from spark_exporter.query.client import UpstreamAlert
from spark_exporter.query.models import Alert


def upstream(**over: Any) -> UpstreamAlert:
    doc: dict[str, Any] = {
        "labels": {"alertname": "GpuHot", "severity": "warning", "node": "spark-01", "gpu": "0", "cluster": "c"},
        "annotations": {"summary": "GPU 0 on spark-01 is hot", "description": "82 C\nfor 5m",
                        "runbook_url": "https://example.org/docs/alerts.md#gpuhot"},
        "state": "firing",
        "activeAt": "2026-12-07T19:00:00.123456789Z",
        "value": "8.2e+01",
    }
    doc.update(over)
    return UpstreamAlert.model_validate(doc)


def row(**over: Any) -> Alert:
    a = mapping.alert(upstream(**over))
    assert a is not None
    return a


class TestAlertRow:
    def test_fields_come_from_labels_and_annotations(self) -> None:
        """Name, severity, node and GPU come from the labels; summary, description and runbook from annotations."""
        a = row()
        assert (a.name, a.state, a.severity, a.node, a.gpu) == ("GpuHot", "firing", "warning", "spark-01", "0")
        assert a.summary == "GPU 0 on spark-01 is hot"
        assert a.runbook_url == "https://example.org/docs/alerts.md#gpuhot"
        assert a.value == 82.0

    def test_active_at_with_nanoseconds_is_seconds_since_epoch(self) -> None:
        """Prometheus' RFC 3339 activeAt with nine fractional digits reads as s since epoch."""
        assert row().since == 1796670000.123456

    def test_unset_active_at_is_none(self) -> None:
        """Go's zero time (0001-01-01) and garbage are None, not a date in year 1."""
        assert row(activeAt="0001-01-01T00:00:00Z").since is None
        assert row(activeAt="yesterday").since is None

    def test_summary_falls_back_to_the_first_line_of_the_description(self) -> None:
        """Without a summary annotation the description's first line stands in."""
        assert row(annotations={"description": "first\nsecond"}).summary == "first"

    def test_a_runbook_that_is_not_a_web_address_is_dropped(self) -> None:
        """javascript: and data: runbook URLs never reach the page's links; relative paths do."""
        assert row(annotations={"runbook_url": "javascript:alert(1)"}).runbook_url is None
        assert row(annotations={"runbook_url": "data:text/html,x"}).runbook_url is None
        assert row(annotations={"runbook_url": "docs/alerts.md#x"}).runbook_url == "docs/alerts.md#x"

    def test_inactive_alerts_are_left_out(self) -> None:
        """Only firing and pending alerts are rows."""
        assert mapping.alert(upstream(state="inactive")) is None

    def test_control_characters_are_blanked(self) -> None:
        """An ESC in an annotation does not reach a terminal or the page as it is."""
        assert row(annotations={"summary": "a\x1b[2Jb"}).summary == "a [2Jb"

    def test_a_non_numeric_value_is_none(self) -> None:
        """A value that is not a number (or NaN) is None."""
        assert row(value="NaN").value is None
        assert row(value="high").value is None


class TestAlertOrder:
    def test_most_severe_first_then_firing_then_oldest(self) -> None:
        """critical before warning before info before unknown severities; firing before pending; older first."""
        rows = [
            row(labels={"alertname": "Info", "severity": "info"}),
            row(labels={"alertname": "NoSeverity"}),
            row(labels={"alertname": "WarnPending", "severity": "warning"}, state="pending"),
            row(labels={"alertname": "WarnNew", "severity": "warning"}, activeAt="2026-12-07T19:30:00Z"),
            row(labels={"alertname": "WarnOld", "severity": "warning"}, activeAt="2026-12-07T18:30:00Z"),
            row(labels={"alertname": "Crit", "severity": "critical"}, state="pending"),
        ]
        names = [a.name for a in sorted(rows, key=mapping.alert_order)]
        assert names == ["Crit", "WarnOld", "WarnNew", "WarnPending", "Info", "NoSeverity"]
