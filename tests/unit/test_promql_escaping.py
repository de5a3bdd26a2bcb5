"""PromQL string literals from arbitrary text, checked against a real Prometheus parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spark_exporter.query.promql import (
    Matcher,
    duration,
    literal_alternation,
    number,
    quote,
    seconds_to_duration,
    selector,
)


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




class TestLiterals:
    def test_number_reads_back_exactly_and_refuses_non_finite(self) -> None:
        """A float becomes a literal that parses back to the same value; NaN and infinities are refused."""
        assert float(number(30.0)) == 30.0 and float(number(0.002)) == 0.002
        for bad in (float("nan"), float("inf"), float("-inf")):
            with pytest.raises(ValueError):
                number(bad)

    def test_literal_alternation_matches_only_the_names(self) -> None:
        """The alternation matches each name whole and literally ('.' is not a wildcard), as RE2 reads it."""
        import re

        pattern = re.compile(f"^(?:{literal_alternation(['n.', 'spark-01'])})$")
        assert pattern.match("n.") and pattern.match("spark-01")
        assert not pattern.match("n1") and not pattern.match("spark-0")
