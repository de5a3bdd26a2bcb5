"""PromQL string literals from arbitrary text, checked against a real Prometheus parser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.procs import Proc, prom_query
from spark_exporter.query.promql import Matcher, bundle, duration, quote, seconds_to_duration, selector

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


class TestQuote:
    def test_plain_text_is_wrapped_in_double_quotes(self) -> None:
        """Text without special characters only gains the quotes."""
        assert quote("spark-01") == '"spark-01"'

    def test_quote_and_backslash_are_escaped(self) -> None:
        """A double quote and a backslash are each preceded by a backslash."""
        assert quote('a"b\\c') == '"a\\"b\\\\c"'

    def test_control_characters_are_escaped(self) -> None:
        """Newline, tab and other control characters never appear raw in the literal."""
        lit = quote("a\nb\tc\x00d\x7f")
        assert lit == '"a\\nb\\tc\\x00d\\x7f"'
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in lit)

    def test_lone_surrogate_is_refused(self) -> None:
        """Text that is not valid Unicode raises ValueError instead of producing a broken query."""
        with pytest.raises(ValueError, match="surrogate"):
            quote("bad\udc80")

    def test_non_string_is_refused(self) -> None:
        """Only str is accepted, so no caller can pass an object with a surprising str()."""
        with pytest.raises(TypeError):
            quote(5)  # type: ignore[arg-type]

    @given(st.text())
    def test_literal_has_no_unescaped_quote_inside(self, text: str) -> None:
        """For any text, every double quote inside the literal is escaped, so the literal cannot end early."""
        body = quote(text)[1:-1]
        i = 0
        while i < len(body):
            if body[i] == "\\":
                i += 2
                continue
            assert body[i] != '"'
            i += 1


class TestBuilders:
    def test_selector_renders_each_matcher_through_quote(self) -> None:
        """Label values in a selector are quoted literals, in the order given."""
        assert selector("up", {"job": "a", "node": 'x"y'}) == 'up{job="a",node="x\\"y"}'

    def test_selector_rejects_bad_metric_and_label_names(self) -> None:
        """Names are checked against Prometheus' grammar, since they are not quoted."""
        with pytest.raises(ValueError):
            selector('up{x="1"} or vector(1)', {})
        with pytest.raises(ValueError):
            selector("up", {"job=~'.*'": "x"})

    def test_matcher_rejects_unknown_operator(self) -> None:
        """Only =, !=, =~ and !~ are accepted as matcher operators."""
        with pytest.raises(ValueError):
            Matcher("job", "x", "== 1 or").render()

    def test_nameless_selector_needs_a_matcher(self) -> None:
        """A bare {} would select nothing valid; it is refused."""
        with pytest.raises(ValueError):
            selector(None, {})

    def test_durations_are_checked(self) -> None:
        """Only PromQL duration syntax passes; seconds convert to the largest whole unit."""
        assert duration("5m") == "5m"
        with pytest.raises(ValueError):
            duration("5m] or vector(1)")
        assert seconds_to_duration(3600) == "1h"
        assert seconds_to_duration(90) == "90s"
        with pytest.raises(ValueError):
            seconds_to_duration(0)


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
