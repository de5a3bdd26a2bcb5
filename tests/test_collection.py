"""The collection loop: scoring, isolation of failures, deadlines and the pre-rendered snapshot."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from procs import parse_metrics
from spark_exporter.collectors.base import Collector, Paths
from spark_exporter.exporter.collection import CollectionLoop
from spark_exporter.exporter.exposition import ExactCounterFamily, render
from spark_exporter.settings import ExporterConfig

CFG = ExporterConfig(values={}, collectors={})


class Good(Collector):
    name = "good"

    def collect(self) -> Iterable[Metric]:
        yield GaugeMetricFamily("test_good", "A good gauge.", value=1.0)


class Broken(Collector):
    name = "broken"

    def collect(self) -> Iterable[Metric]:
        raise OSError("device vanished")


class Hanging(Collector):
    name = "hanging"

    def __init__(self) -> None:
        super().__init__(CFG, Paths())
        self.release = threading.Event()
        self.calls = 0

    def collect(self) -> Iterable[Metric]:
        self.calls += 1
        self.release.wait(30)
        return [GaugeMetricFamily("test_hanging", "Late.", value=1.0)]


def success_by_collector(body: bytes) -> dict[str, float]:
    fams = parse_metrics(body.decode())
    return {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}


class TestCollectionLoop:
    def test_failing_collector_is_scored_and_others_served(self) -> None:
        """A collector that raises gets success=0 and its series are absent; the others are served."""
        loop = CollectionLoop([Good(CFG, Paths()), Broken(CFG, Paths())], interval=1, timeout=1)
        snap = loop.collect_once()
        fams = parse_metrics(snap.body.decode())
        assert "test_good" in fams
        assert success_by_collector(snap.body) == {"good": 1.0, "broken": 0.0}
        assert [r.error for r in snap.results if r.name == "broken"] == ["OSError: device vanished"]

    def test_hung_collector_times_out_and_is_not_called_again_while_in_flight(self) -> None:
        """A collector past its deadline scores 0, and is not called again while its call is still running."""
        hanging = Hanging()
        loop = CollectionLoop([Good(CFG, Paths()), hanging], interval=1, timeout=0.2)
        runners_before = len([t for t in threading.enumerate() if t.name == "collector-runner"])
        try:
            first = loop.collect_once()
            second = loop.collect_once()
            assert success_by_collector(first.body) == {"good": 1.0, "hanging": 0.0}
            assert success_by_collector(second.body) == {"good": 1.0, "hanging": 0.0}
            assert hanging.calls == 1
            assert "still running" in next(r.error or "" for r in second.results if r.name == "hanging")
            # One runner is stuck in the hung call, one serves the others; more cycles add none.
            loop.collect_once()
            runners = len([t for t in threading.enumerate() if t.name == "collector-runner"])
            assert runners == runners_before + 2
        finally:
            hanging.release.set()
        # Once the call returns, the collector is called again and succeeds.
        hanging.release.set()
        threading.Event().wait(0.1)
        third = loop.collect_once()
        assert success_by_collector(third.body)["hanging"] == 1.0

    def test_collectors_queued_behind_a_hung_one_still_run(self) -> None:
        """Collectors after a hung one run on a fresh runner in the same cycle and are served."""
        hanging = Hanging()
        loop = CollectionLoop([hanging, Good(CFG, Paths()), Broken(CFG, Paths())], interval=1, timeout=0.2)
        try:
            snap = loop.collect_once()
            assert success_by_collector(snap.body) == {"hanging": 0.0, "good": 1.0, "broken": 0.0}
            assert "test_good" in parse_metrics(snap.body.decode())
            assert hanging.calls == 1
        finally:
            hanging.release.set()

    def test_snapshot_is_pre_rendered_and_ready_after_first_collection(self) -> None:
        """Before the first collection there is no snapshot; after it, bytes are ready and gzip decodes."""
        import gzip
        loop = CollectionLoop([Good(CFG, Paths())], interval=1, timeout=1)
        assert loop.snapshot is None and not loop.ready
        loop.collect_once()
        assert loop.ready and loop.snapshot is not None
        assert gzip.decompress(loop.snapshot.gzipped()) == loop.snapshot.body

    def test_background_loop_publishes_and_stops(self) -> None:
        """start() collects in a background thread; stop() ends it."""
        loop = CollectionLoop([Good(CFG, Paths())], interval=0.05, timeout=0.05)
        loop.start()
        assert loop.wait_ready(5)
        first_ts = loop.snapshot.timestamp if loop.snapshot else 0
        threading.Event().wait(0.3)
        assert loop.snapshot is not None and loop.snapshot.timestamp > first_ts
        loop.stop()
        assert not any(t.name == "collection-loop" for t in threading.enumerate())


class TestExposition:
    def test_exact_counter_keeps_its_name(self) -> None:
        """A DCGM-style counter renders as '# TYPE X counter' with samples named X, without _total."""
        fam = ExactCounterFamily("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy (in mJ).", labels=["gpu"])
        fam.add_metric(["0"], 1234.0)
        text = render([fam]).decode()
        assert "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n" in text
        assert 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0"} 1234.0\n' in text
        assert "_total" not in text.replace("TOTAL_ENERGY", "")

    def test_label_values_are_escaped(self) -> None:
        """Label values with quotes, backslashes and newlines are escaped and round-trip through the parser."""
        fam = GaugeMetricFamily("test_x", "X.", labels=["name"])
        nasty = 'a"b\\c\nd'
        fam.add_metric([nasty], 1.0)
        parsed = parse_metrics(render([fam]).decode())
        assert parsed["test_x"].samples[0].labels["name"] == nasty

    def test_matches_prometheus_client_byte_for_byte(self) -> None:
        """The renderer writes what prometheus-client's generate_latest writes for every family we collect."""
        from prometheus_client.exposition import generate_latest
        from prometheus_client.metrics_core import CounterMetricFamily, InfoMetricFamily, SummaryMetricFamily

        from spark_exporter.cli import load_config, make_collectors

        cfg = load_config(["--gpu.simulate=h100x2", "--no-gpu.process-metrics"], {})
        families: list[Metric] = []
        collectors = make_collectors(cfg)
        try:
            for c in collectors:
                families.extend(c.collect())
        finally:
            for c in collectors:
                c.close()
        counter = CounterMetricFamily("test_events", "Events.", labels=["kind"])
        counter.add_metric(['a"\\\n'], 3.0)
        info = InfoMetricFamily("test_build", "Build.", value={"version": "1"})
        summary = SummaryMetricFamily("test_latency_seconds", "Latency.", count_value=2, sum_value=0.5)
        families += [counter, info, summary]
        assert len(families) > 100

        class Registry:
            def collect(self) -> list[Metric]:
                return families

        expected = generate_latest(Registry())  # type: ignore[arg-type]
        for fam in families:
            if isinstance(fam, ExactCounterFamily):
                gauge, counter = f"# TYPE {fam.name} gauge\n", f"# TYPE {fam.name} counter\n"
                expected = expected.replace(gauge.encode(), counter.encode())
        assert render(families) == expected
