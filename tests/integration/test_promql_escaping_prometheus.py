"""PromQL escaping checked against a real Prometheus's parser (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.procs import Proc, prom_query
from spark_exporter.query.promql import bundle, quote, selector

ADVERSARIAL = [
    '"} or vector(1) or up{x="',
    '"}) or vector(1) #',
    "\\",
    '\\"',
    "a\nb",
    "}{",
    'x" or on() vector(1) or "',
    '\\\\" or vector(1) or "',
    "\x00\x01\x7f",
    "$1 ${x} $$",
    "`backtick` 'single'",
    "tab\there\rcr",
    "ünïcödé ✓ 🚀",
    "",
]


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def prom(empty_prometheus: Proc) -> Iterator[Proc]:
    """A real Prometheus with no targets: the parser under test."""
    yield empty_prometheus  # shared per session (conftest.py): these tests only query it


class TestAgainstPrometheus:
    @PROPERTY
    @given(text=st.text())
    def test_string_literal_round_trips(self, prom: Proc, text: str) -> None:
        """For any text, Prometheus evaluates the quoted literal to exactly that text."""
        result = prom_query(prom.url, quote(text))
        assert result[1] == text

    @PROPERTY
    @given(text=st.text(min_size=1))
    def test_label_value_round_trips(self, prom: Proc, text: str) -> None:
        """For any text, label_replace with the quoted literal sets the label to exactly that text."""
        # label_replace expands $-templates in its replacement; $$ is a literal $ there.
        template = text.replace("$", "$$")
        result = prom_query(prom.url, f'label_replace(vector(1), "x", {quote(template)}, "", "")')
        assert [r["metric"] for r in result] == [{"x": text}]

    @PROPERTY
    @given(text=st.one_of(st.sampled_from(ADVERSARIAL), st.text()))
    def test_quoted_value_never_changes_the_query_structure(self, prom: Proc, text: str) -> None:
        """A selector on a label no series has returns an empty vector, whatever the value."""
        assert prom_query(prom.url, selector("up", {"job": text})) == []

    @pytest.mark.parametrize("text", ADVERSARIAL)
    def test_adversarial_values_are_matched_literally(self, prom: Proc, text: str) -> None:
        """Each adversarial value, quoted, compares equal to itself inside a real query."""
        template = text.replace("$", "$$")
        result = prom_query(prom.url, f'label_replace(vector(1), "x", {quote(template)}, "", "")')
        # An empty replacement removes the label, as label_replace documents.
        assert [r["metric"] for r in result] == [{"x": text} if text else {}]
        assert prom_query(prom.url, quote(text))[1] == text

    def test_raw_concatenation_would_have_been_injected(self, prom: Proc) -> None:
        """The oracle can fail: the same payload concatenated raw returns the injected vector(1)."""
        payload = '"} or vector(1) or up{x="'
        assert prom_query(prom.url, 'up{job="' + payload + '"}') != []
        assert prom_query(prom.url, selector("up", {"job": payload})) == []

    def test_bundle_keeps_each_part_apart(self, prom: Proc) -> None:
        """Bundled expressions come back tagged by part name, none dropped by the joining 'or'."""
        result = prom_query(prom.url, bundle({"a": "vector(1)", "b": "vector(2)", 'c"}': "vector(3)"}))
        got = {r["metric"]["spark_exporter_field"]: r["value"][1] for r in result}
        assert got == {"a": "1", "b": "2", 'c"}': "3"}
