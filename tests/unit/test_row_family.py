"""RowFamily (label text written once per label set) renders the bytes prometheus-client would write."""

from __future__ import annotations

import math
import random

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from spark_exporter.collectors.families import ExactCounterFamily, LabelTexts, RowFamily, label_text
from spark_exporter.exporter import exposition
from spark_exporter.exporter.exposition import Renderer, check, go_float, render

NAMES = ("gpu", "UUID", "Hostname", "modelName")
# Values that need escaping, and names that do not come in sorted order.
ROWS = [
    (("0", "GPU-a", 'host "quoted"', "NVIDIA H100\\80GB"), 1.0),
    (("1", "GPU-b", "line\nbreak", "H100"), 1234567.0),
    (("2", "GPU-c", "h", ""), -0.5),
    (("3", "GPU-d", "h", "x"), float("inf")),
    (("4", "GPU-e", "h", "x"), float("nan")),
]


class _One:
    def __init__(self, fam: Metric) -> None:
        self.fam = fam

    def collect(self) -> list[Metric]:
        return [self.fam]


def _rows(fam: RowFamily) -> RowFamily:
    for values, v in ROWS:
        fam.add(values, label_text(fam.label_names, values), v)
    return fam


class TestRowFamily:
    def test_gauge_renders_generate_latest_bytes(self) -> None:
        """A gauge RowFamily renders exactly what generate_latest writes for the same GaugeMetricFamily."""
        ref = GaugeMetricFamily("g_metric", 'help with \\ and\nnewline', labels=list(NAMES))
        for values, v in ROWS:
            ref.add_metric(list(values), v)
        ours = _rows(RowFamily("g_metric", 'help with \\ and\nnewline', "gauge", NAMES))
        assert render([ours]) == generate_latest(_One(ref))  # type: ignore[arg-type]

    def test_counter_renders_generate_latest_bytes(self) -> None:
        """A counter RowFamily is named X_total in HELP, TYPE and samples, as CounterMetricFamily."""
        ref = CounterMetricFamily("c_metric", "h", labels=list(NAMES))
        for values, v in ROWS[:3]:
            ref.add_metric(list(values), abs(v))
        ours = RowFamily("c_metric", "h", "counter", NAMES)
        for values, v in ROWS[:3]:
            ours.add(values, label_text(NAMES, values), abs(v))
        assert render([ours]) == generate_latest(_One(ref))  # type: ignore[arg-type]
        assert [s.name for s in ours.samples] == ["c_metric_total"] * 3

    def test_exact_counter_renders_as_exact_counter_family(self) -> None:
        """An exact RowFamily writes ``# TYPE X counter`` above samples named X, as ExactCounterFamily."""
        ref = ExactCounterFamily("DCGM_FI_DEV_X", "h", labels=list(NAMES))
        for values, v in ROWS:
            ref.add_metric(list(values), v)
        ours = _rows(RowFamily("DCGM_FI_DEV_X", "h", "counter", NAMES, exact=True))
        text = render([ours])
        assert text == render([ref])
        assert b"# TYPE DCGM_FI_DEV_X counter\n" in text

    def test_samples_equal_the_prometheus_client_family(self) -> None:
        """``samples`` holds the same Sample objects the equivalent GaugeMetricFamily holds."""
        ref = GaugeMetricFamily("g", "h", labels=list(NAMES))
        for values, v in ROWS[:3]:
            ref.add_metric(list(values), v)
        ours = RowFamily("g", "h", "gauge", NAMES)
        for values, v in ROWS[:3]:
            ours.add(values, label_text(NAMES, values), v)
        assert ours.samples == ref.samples

    def test_repeated_label_set_is_left_out(self) -> None:
        """A second row with the same label set is dropped, as the generic path drops a duplicate series."""
        fam = RowFamily("g", "h", "gauge", ("a",))
        fam.add(("x",), label_text(("a",), ("x",)), 1.0)
        fam.add(("x",), label_text(("a",), ("x",)), 2.0)
        assert render([fam]) == b'# HELP g h\n# TYPE g gauge\ng{a="x"} 1.0\n'

    def test_joined_with_a_family_of_the_same_name(self) -> None:
        """A RowFamily and a GaugeMetricFamily of one name are served as one family, duplicates left out."""
        ours = RowFamily("g", "h", "gauge", ("a",))
        ours.add(("x",), label_text(("a",), ("x",)), 1.0)
        other = GaugeMetricFamily("g", "other help", labels=["a"])
        other.add_metric(["x"], 5.0)
        other.add_metric(["y"], 2.0)
        assert Renderer().render([ours, other]) == b'# HELP g h\n# TYPE g gauge\ng{a="x"} 1.0\ng{a="y"} 2.0\n'
        joined = check([ours, other])
        assert [(s.labels, s.value) for s in joined[0].samples] == [({"a": "x"}, 1.0), ({"a": "y"}, 2.0)]

    def test_no_labels(self) -> None:
        """A family without labels writes bare sample lines."""
        fam = RowFamily("g", "h", "gauge", ())
        fam.add((), label_text((), ()), 3.0)
        ref = GaugeMetricFamily("g", "h", value=3.0)
        assert render([fam]) == generate_latest(_One(ref))  # type: ignore[arg-type]

    @pytest.mark.parametrize(("name", "labels"), [("bad-name", ("a",)), ("g", ("bad-label",)), ("g", ("__x",))])
    def test_names_outside_the_legacy_set_are_refused(self, name: str, labels: tuple[str, ...]) -> None:
        """A metric or label name the fast path could not write as prometheus-client does raises ValueError."""
        with pytest.raises(ValueError):
            RowFamily(name, "h", "gauge", labels)

    def test_samples_cannot_be_assigned(self) -> None:
        """Rows are the only storage: assigning ``samples`` fails rather than being silently ignored."""
        fam = RowFamily("g", "h", "gauge", ())
        with pytest.raises(AttributeError):
            fam.samples = []


class TestLabelTexts:
    def test_remembers_and_is_bounded(self) -> None:
        """Label text per value tuple equals label_text(); the memory is cleared at its size."""
        texts = LabelTexts(("b", "a"), size=2)
        assert texts(("1", "2")) == '{a="2",b="1"}' == label_text(("b", "a"), ("1", "2"))
        texts(("3", "4"))
        texts(("5", "6"))
        assert len(texts._texts) == 1


class TestGoFloat:
    def test_equals_float_to_go_string(self) -> None:
        """go_float writes every value exactly as prometheus-client's floatToGoString."""
        rng = random.Random(7)
        values = [0.0, -0.0, 1.0, -1.0, 999999.0, 1e6, 1234567.0, -1234567.0, 1e16, 1e17, 1e-5, 2.0**53,
                  5e-324, 1.7976931348623157e308, math.inf, -math.inf, math.nan]
        values += [rng.uniform(-1e9, 1e9) for _ in range(2000)]
        values += [float(rng.randint(0, 10**13)) for _ in range(2000)]
        values += [10 ** rng.uniform(-30, 30) for _ in range(2000)]
        assert [go_float(v) for v in values] == [floatToGoString(v) for v in values]


class TestValueText:
    @pytest.mark.parametrize("value", [0.0, -0.0, 0, 1, 1.0, -1.5, 123456.0, 1234567.0, 1e20, 10**20, 2**53 + 1,
                                       5e-324, float("inf"), float("-inf"), float("nan"), True])
    def test_remembered_text_is_prometheus_clients(self, value: float) -> None:
        """The renderer's remembered value text equals floatToGoString's, asked once or again, and in a
        family's bytes (0.0 and -0.0, 1 and 1.0 and True are equal keys; NaN never hits)."""
        renderer = Renderer()
        assert renderer._value(value) == renderer._value(value) == floatToGoString(value)
        fam = GaugeMetricFamily("g", "A gauge.", labels=["k"])
        for i, v in enumerate([value, -0.0, 0.0, value]):
            fam.add_metric([str(i)], v)
        assert renderer.render([fam]) == renderer.render([fam]) == generate_latest(_One(fam))  # type: ignore[arg-type]

    def test_cache_is_bounded(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Counter readings change every scrape: the remembered texts stay at most VALUE_CACHE_SIZE."""
        monkeypatch.setattr(exposition, "VALUE_CACHE_SIZE", 10)
        renderer = Renderer()
        for i in range(1, 100):
            renderer._value(i * 1.5)
        assert 0 < len(renderer._values) <= 10
