"""bench/fleet.py's command line: bad sizes, poll counts and intervals are refused before anything starts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import fleet as bench_fleet  # noqa: E402


class TestArguments:
    def test_sizes_are_node_counts_the_simulator_serves(self) -> None:
        """--sizes takes comma-separated counts from 1 to 256, in the order given."""
        assert bench_fleet.sizes("2,16,64,256") == [2, 16, 64, 256]
        assert bench_fleet.sizes("1") == [1]

    @pytest.mark.parametrize("text", ["0", "257", "2,x", "", "2,,16", "-1"])
    def test_bad_sizes_are_refused(self, text: str) -> None:
        """A count outside 1..256 or not a number is an argparse error (one line, exit 2), not a timeout."""
        with pytest.raises(argparse.ArgumentTypeError):
            bench_fleet.sizes(text)

    @pytest.mark.parametrize("text", ["0", "-3", "ten"])
    def test_polls_must_be_positive(self, text: str) -> None:
        """--polls 0 would divide by zero after the whole start-up; it is refused at once."""
        with pytest.raises(argparse.ArgumentTypeError):
            bench_fleet.positive_int(text)

    @pytest.mark.parametrize("text", ["0s", "abc", "15"])
    def test_scrape_interval_is_a_positive_prometheus_duration(self, text: str) -> None:
        """--scrape-interval goes through the one duration parser."""
        with pytest.raises(argparse.ArgumentTypeError):
            bench_fleet.duration(text)
        assert bench_fleet.duration("15s") == "15s"
