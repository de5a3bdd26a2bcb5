"""Scrape-driven collection: scoring, isolation of failures, deadlines, coalescing, and the exposition."""

from __future__ import annotations

import asyncio
import errno
import gzip
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from structlog.testing import capture_logs

from helpers.procs import parse_metrics
from spark_exporter.collectors._files import read_text
from spark_exporter.collectors.base import Collector, Paths
from spark_exporter.collectors.families import is_exact_counter
from spark_exporter.exporter.app import build_app
from spark_exporter.exporter.collection import Collection
from spark_exporter.exporter.exposition import ExactCounterFamily, Renderer, render
from spark_exporter.http.webconfig import WebConfig
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


class Counting(Collector):
    """Counts its calls; each call may wait on ``gate`` (set by default)."""

    name = "counting"

    def __init__(self) -> None:
        super().__init__(CFG, Paths())
        self.calls = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def collect(self) -> Iterable[Metric]:
        self.calls += 1
        self.entered.set()
        self.gate.wait(30)
        return [GaugeMetricFamily("test_calls", "Calls so far.", value=self.calls)]


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


class FakeGpu(Collector):
    name = "accelerator"  # not "gpu": the collection loop goes by Collector.kind, not by name
    kind = "gpu"

    def collect(self) -> Iterable[Metric]:
        return []


class Spoofing(Collector):
    """Serves self-metric names untyped, as a stray textfile can."""

    name = "spoofing"

    def collect(self) -> Iterable[Metric]:
        fake = Metric("spark_exporter_collector_success", "Spoofed.", "unknown")
        fake.add_sample("spark_exporter_collector_success", {"collector": "broken"}, 1.0)
        node = Metric("node_scrape_collector_success", "Spoofed.", "unknown")
        node.add_sample("node_scrape_collector_success", {"collector": "broken"}, 1.0)
        return [fake, node]


def success_by_collector(body: bytes, family: str = "spark_exporter_collector_success") -> dict[str, float]:
    fams = parse_metrics(body.decode())
    return {s.labels["collector"]: s.value for s in fams[family].samples}


class TestCollection:
    def test_failing_collector_is_scored_and_others_served(self) -> None:
        """A collector that raises gets success=0 and its series are absent; the others are served."""
        loop = Collection([Good(CFG, Paths()), Broken(CFG, Paths())], timeout=1)
        snap = loop.collect_once()
        fams = parse_metrics(snap.body.decode())
        assert "test_good" in fams
        assert success_by_collector(snap.body) == {"good": 1.0, "broken": 0.0}
        assert [r.error for r in snap.results if r.name == "broken"] == ["OSError: device vanished"]

    def test_hung_collector_times_out_and_is_not_called_again_while_in_flight(self) -> None:
        """A collector past its deadline scores 0, and is not called again while its call is still running."""
        hanging = Hanging()
        loop = Collection([Good(CFG, Paths()), hanging], timeout=0.2)
        runners_before = len([t for t in threading.enumerate() if t.name == "collector-runner"])
        try:
            first = loop.collect_once()
            second = loop.collect_once()
            assert success_by_collector(first.body) == {"good": 1.0, "hanging": 0.0}
            assert success_by_collector(second.body) == {"good": 1.0, "hanging": 0.0}
            assert hanging.calls == 1
            assert "still running" in next(r.error or "" for r in second.results if r.name == "hanging")
            # One runner is stuck in the hung call, one serves the others; more collections add none.
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
        """Collectors after a hung one run on a fresh runner in the same collection and are served."""
        hanging = Hanging()
        loop = Collection([hanging, Good(CFG, Paths()), Broken(CFG, Paths())], timeout=0.2)
        try:
            snap = loop.collect_once()
            assert success_by_collector(snap.body) == {"hanging": 0.0, "good": 1.0, "broken": 0.0}
            assert "test_good" in parse_metrics(snap.body.decode())
            assert hanging.calls == 1
        finally:
            hanging.release.set()

    def test_snapshot_exists_after_first_collection_and_gzip_decodes(self) -> None:
        """Before the first collection there is no snapshot; after it, the bytes are there and gzip decodes."""
        loop = Collection([Good(CFG, Paths())], timeout=1)
        assert loop.snapshot is None
        loop.collect_once()
        assert loop.snapshot is not None
        assert gzip.decompress(loop.snapshot.gzipped()) == loop.snapshot.body

    def test_self_metrics_include_node_exporter_names_for_host_collectors(self) -> None:
        """node_scrape_collector_success/duration cover the collectors of kind "host", with node_exporter's HELP."""
        loop = Collection([Good(CFG, Paths()), Broken(CFG, Paths()), FakeGpu(CFG, Paths())], timeout=1)
        snap = loop.collect_once()
        fams = parse_metrics(snap.body.decode())
        assert success_by_collector(snap.body, "node_scrape_collector_success") == {"good": 1.0, "broken": 0.0}
        assert {s.labels["collector"] for s in fams["node_scrape_collector_duration_seconds"].samples} == {
            "good", "broken"}
        assert fams["node_scrape_collector_success"].documentation == "node_exporter: Whether a collector succeeded."
        assert fams["node_scrape_collector_duration_seconds"].documentation == (
            "node_exporter: Duration of a collector scrape.")
        assert success_by_collector(snap.body)["accelerator"] == 1.0

    def test_a_collector_cannot_hide_the_self_metrics(self) -> None:
        """A collector serving a self-metric's name is left out of that family; the exporter's own is served."""
        loop = Collection([Spoofing(CFG, Paths()), Broken(CFG, Paths()), Good(CFG, Paths())], timeout=1)
        with capture_logs() as logs:
            snap = loop.collect_once()
            loop.collect_once()
        assert success_by_collector(snap.body) == {"spoofing": 1.0, "broken": 0.0, "good": 1.0}
        assert success_by_collector(snap.body, "node_scrape_collector_success") == {
            "spoofing": 1.0, "broken": 0.0, "good": 1.0}
        assert parse_metrics(snap.body.decode())["spark_exporter_collector_success"].type == "gauge"
        assert sorted(e["metric"] for e in logs if e["event"] == "self_metric_shadowed") == [
            "node_scrape_collector_success", "spark_exporter_collector_success"]

    def test_last_collection_timestamp_is_the_collection_end(self) -> None:
        """spark_exporter_last_collection_timestamp_seconds is the snapshot's end time in Unix seconds."""
        loop = Collection([Good(CFG, Paths())], timeout=1)
        snap = loop.collect_once()
        fam = parse_metrics(snap.body.decode())["spark_exporter_last_collection_timestamp_seconds"]
        assert fam.type == "gauge" and fam.samples[0].value == snap.timestamp


class TestScrapeDriven:
    async def test_no_scrapes_no_collection(self) -> None:
        """A running server that is not scraped never calls a collector."""
        counting = Counting()
        loop = Collection([counting], timeout=1, min_age=0)
        async with TestClient(TestServer(build_app(loop, "/metrics", WebConfig()))) as client:
            assert (await client.get("/-/ready")).status == 200
            await asyncio.sleep(0.5)
            assert counting.calls == 0 and loop.collections == 0
            resp = await client.get("/metrics")
            assert resp.status == 200
            assert counting.calls == 1
        loop.stop()

    async def test_concurrent_scrapes_share_one_collection(self) -> None:
        """Two scrapes that arrive while a collection runs get that collection's bytes; no second one runs."""
        counting = Counting()
        counting.gate.clear()
        loop = Collection([counting], timeout=10, min_age=0)
        first = asyncio.ensure_future(loop.scrape())
        await asyncio.to_thread(counting.entered.wait, 10)
        second = asyncio.ensure_future(loop.scrape())
        await asyncio.sleep(0.05)
        counting.gate.set()
        a, b = await asyncio.gather(first, second)
        assert a is b
        assert counting.calls == 1 and loop.collections == 1
        loop.stop()

    async def test_recent_collection_is_reused_within_min_age(self) -> None:
        """A scrape within min-age of the last collection gets it again; with min-age 0 each scrape collects."""
        counting = Counting()
        reuse = Collection([counting], timeout=1, min_age=3600)
        assert (await reuse.scrape()) is (await reuse.scrape())
        assert counting.calls == 1
        every = Collection([counting], timeout=1, min_age=0)
        await every.scrape()
        await every.scrape()
        assert counting.calls == 3
        reuse.stop()
        every.stop()

    async def test_hung_collector_delays_a_scrape_by_at_most_its_deadline(self) -> None:
        """A hung collector costs the first scrape about its deadline and later scrapes nothing; others stay served."""
        hanging = Hanging()
        loop = Collection([hanging, Good(CFG, Paths())], timeout=1.0, min_age=0)
        app = build_app(loop, "/metrics", WebConfig())
        try:
            async with TestClient(TestServer(app)) as client:
                t0 = time.monotonic()
                metrics = asyncio.ensure_future(client.get("/metrics"))
                # The event loop keeps answering while the collection waits on the hung call.
                assert (await client.get("/-/healthy")).status == 200
                resp = await metrics
                first = time.monotonic() - t0
                assert resp.status == 200
                assert success_by_collector(await resp.read()) == {"hanging": 0.0, "good": 1.0}
                t1 = time.monotonic()
                resp = await client.get("/metrics")
                second = time.monotonic() - t1
                assert success_by_collector(await resp.read()) == {"hanging": 0.0, "good": 1.0}
            assert 1.0 <= first < 1.0 + 5.0  # the deadline plus generous slack for a loaded machine
            assert second < 1.0  # the still-running call is not waited for again
            assert hanging.calls == 1
        finally:
            hanging.release.set()
            loop.stop()


class TestExposition:
    def test_exact_counter_keeps_its_name(self) -> None:
        """A DCGM-style counter renders as '# TYPE X counter' with samples named X, without _total."""
        fam = ExactCounterFamily("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "Total energy (in mJ).", labels=["gpu"])
        fam.add_metric(["0"], 1234.0)
        text = render([fam]).decode()
        assert "# TYPE DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION counter\n" in text
        assert 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0"} 1234.0\n' in text
        assert "_total" not in text.replace("TOTAL_ENERGY", "")

    def test_exact_counter_importable_from_families(self) -> None:
        """The exposition module re-exports the family type the collectors build (collectors.families)."""
        from spark_exporter.collectors import families
        assert ExactCounterFamily is families.ExactCounterFamily

    def test_label_values_are_escaped(self) -> None:
        """Label values with quotes, backslashes and newlines are escaped and round-trip through the parser."""
        fam = GaugeMetricFamily("test_x", "X.", labels=["name"])
        nasty = 'a"b\\c\nd'
        fam.add_metric([nasty], 1.0)
        parsed = parse_metrics(render([fam]).decode())
        assert parsed["test_x"].samples[0].labels["name"] == nasty

    def test_same_name_same_type_families_are_joined_without_mutation(self) -> None:
        """Two gauge families with one name are served as one family, and neither input is changed."""
        a = GaugeMetricFamily("test_joined", "Joined.", labels=["x"])
        a.add_metric(["1"], 1.0)
        b = GaugeMetricFamily("test_joined", "Joined.", labels=["x"])
        b.add_metric(["2"], 2.0)
        fams = parse_metrics(render([a, b]).decode())
        assert [s.labels["x"] for s in fams["test_joined"].samples] == ["1", "2"]
        assert len(a.samples) == 1 and len(b.samples) == 1

    def test_type_clash_is_logged_once_and_left_out(self) -> None:
        """A family whose name a family of another type already took is left out, with one warning per name."""
        warned: set[tuple[str, str]] = set()

        def families() -> list[Metric]:
            gauge = GaugeMetricFamily("test_clash", "A gauge.", value=1.0)
            counter = CounterMetricFamily("test_clash", "A counter.", value=5.0)
            return [gauge, counter, GaugeMetricFamily("test_other", "Other.", value=2.0)]

        with capture_logs() as logs:
            first = parse_metrics(render(families(), warned).decode())
            render(families(), warned)
        assert first["test_clash"].type == "gauge"
        assert [s.value for s in first["test_clash"].samples] == [1.0]
        assert "test_other" in first
        warnings = [e for e in logs if e["event"] == "metric_type_clash" and e["log_level"] == "warning"]
        assert [(e["metric"], e["served"], e["dropped"]) for e in warnings] == [("test_clash", "gauge", "counter")]

    def test_duplicate_series_is_logged_once_and_left_out(self) -> None:
        """A second sample with the same name and labels is left out, with one warning per metric name."""
        warned: set[tuple[str, str]] = set()

        def family() -> GaugeMetricFamily:
            fam = GaugeMetricFamily("test_dup", "Dup.", labels=["gpu"])
            fam.add_metric(["0"], 1.0)
            fam.add_metric(["1"], 2.0)
            fam.add_metric(["0"], 3.0)
            return fam

        with capture_logs() as logs:
            served = parse_metrics(render([family()], warned).decode())
            render([family()], warned)
        assert [(s.labels["gpu"], s.value) for s in served["test_dup"].samples] == [("0", 1.0), ("1", 2.0)]
        warnings = [e for e in logs if e["event"] == "duplicate_series" and e["log_level"] == "warning"]
        assert [(e["metric"], e["dropped"]) for e in warnings] == [("test_dup", 1)]

    def test_unusual_families_render_as_the_library_does(self) -> None:
        """Timestamps, names outside the legacy character set and reused renderers give generate_latest's bytes."""
        from prometheus_client.exposition import generate_latest

        stamped = GaugeMetricFamily("test_stamped", "Stamped.", labels=["a"])
        stamped.add_metric(["1"], 2.0, timestamp=1700000000.5)
        dotted = GaugeMetricFamily("test.dotted", "Dotted name.", value=1.0)
        odd_label = GaugeMetricFamily("test_odd_label", "Odd label name.", labels=["a.b"])
        odd_label.add_metric(["x"], 3.0)
        families: list[Metric] = [stamped, dotted, odd_label]

        class Registry:
            def collect(self) -> list[Metric]:
                return families

        renderer = Renderer()
        assert renderer.render(families) == generate_latest(Registry())  # type: ignore[arg-type]
        assert renderer.render(families) == generate_latest(Registry())  # type: ignore[arg-type]

    def test_reused_renderer_matches_a_fresh_one(self) -> None:
        """A renderer whose label cache holds earlier collections writes what a fresh one writes."""
        renderer = Renderer()
        for values in (["a", "b"], ["b", "c"], ['q"uote', "a"]):
            fam = GaugeMetricFamily("test_cached", "Cached.", labels=["x", "y"])
            for v in values:
                fam.add_metric([v, "same"], 1.0)
            assert renderer.render([fam]) == render([fam])

    def test_matches_prometheus_client_byte_for_byte(self) -> None:
        """The renderer writes what prometheus-client's generate_latest writes for every family we collect."""
        from prometheus_client.exposition import generate_latest
        from prometheus_client.metrics_core import InfoMetricFamily, SummaryMetricFamily

        from spark_exporter.exporter.daemon import load_config, make_collectors

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
            if is_exact_counter(fam):  # ExactCounterFamily, or the gpu collector's exact RowFamily
                gauge, counter_line = f"# TYPE {fam.name} gauge\n", f"# TYPE {fam.name} counter\n"
                expected = expected.replace(gauge.encode(), counter_line.encode())
        assert render(families) == expected


class TestReadText:
    def test_reads_the_whole_file_past_one_chunk(self, tmp_path: Path) -> None:
        """A file longer than one read chunk comes back whole, undecodable bytes replaced."""
        path = tmp_path / "big"
        path.write_bytes(b"x" * 200_000 + b"\xff\n")
        text = read_text(str(path))
        assert len(text) == 200_002 and text.endswith("\ufffd\n")

    def test_refuses_a_file_over_the_limit(self, tmp_path: Path) -> None:
        """A file over the size limit raises OSError(EFBIG) instead of being read whole."""
        path = tmp_path / "big"
        path.write_bytes(b"x" * 5000)
        with pytest.raises(OSError) as exc:
            read_text(str(path), limit=4096)
        assert exc.value.errno == errno.EFBIG


class TestDiscovery:
    def test_a_new_module_is_a_new_collector(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A collector module dropped into the package is registered by load_all with no other edit."""
        import sys

        import spark_exporter.collectors as pkg

        (tmp_path / "extra_probe.py").write_text(
            "from . import register\n"
            "from .base import Collector\n\n\n"
            "@register\n"
            "class ExtraProbe(Collector):\n"
            "    name = 'extra_probe'\n"
            "    default_enabled = False\n"
        )
        monkeypatch.setattr(pkg, "__path__", [*pkg.__path__, str(tmp_path)])
        try:
            registry = pkg.load_all()
            assert registry["extra_probe"].__module__ == "spark_exporter.collectors.extra_probe"
            assert registry["extra_probe"].default_enabled is False
            assert list(registry) == sorted(registry)
        finally:
            pkg.REGISTRY.pop("extra_probe", None)
            sys.modules.pop("spark_exporter.collectors.extra_probe", None)

    def test_every_shipped_module_registers_a_collector(self) -> None:
        """Every module (or subpackage) of the collectors package but the named non-collectors (base, families)
        and private helpers registers a collector, and every collector comes from one."""
        import pkgutil

        import spark_exporter.collectors as pkg

        registry = pkg.load_all()
        modules = {m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")}
        modules -= {"base", "families"}
        assert {cls.__module__.split(".")[2] for cls in registry.values()} == modules
