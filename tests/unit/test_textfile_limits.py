"""Textfile limits on what a file costs, counted before parsing, and text files never overwriting built-ins."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from helpers.gpu import Clock, make_collector, write_meminfo
from spark_exporter.collectors import textfile
from spark_exporter.collectors.base import Collector, Paths
from spark_exporter.collectors.textfile import TextfileCollector
from spark_exporter.exporter.collection import Collection
from spark_exporter.exporter.daemon import load_config
from spark_exporter.nvml.sim import SimulatedNvml


def collector(directory: Path) -> TextfileCollector:
    cfg = load_config([f"--textfile.directory={directory}"])
    return TextfileCollector(cfg, Paths())


def by_name(fams: Iterable[Metric]) -> dict[str, Metric]:
    return {f.name: f for f in fams}


def scrape_error(fams: dict[str, Metric]) -> float:
    return fams["node_textfile_scrape_error"].samples[0].value


class TestCostLimits:
    @pytest.mark.parametrize(("name", "text", "limit", "value"), [
        ("labels", "m{" + ",".join(f'l{i}="v"' for i in range(200)) + "} 1\n", "MAX_LABELS", 128),
        ("line", 'm{l="' + "x" * 5000 + '"} 1\n', "MAX_LINE", 4096),
        # "\x1c" and "\r" in label values end no line for the parser, so they end none for the limits either.
        ("labels-split", "m{" + ",".join(f'l{i}="\x1c"' for i in range(200)) + "} 1\n", "MAX_LABELS", 128),
        ("line-split", 'm{l="' + "x\r" * 2500 + '"} 1\n', "MAX_LINE", 4096),
        ("families", "".join(f"# TYPE fam_{i} gauge\n" for i in range(50)), "MAX_FAMILIES", 40),
        ("untyped-families", "".join(f"fam_{i} 1\n" for i in range(50)), "MAX_FAMILIES", 40),
        ("bytes", "m 1\n" * 400, "MAX_FILE_BYTES", 1000),
        ("samples", "".join(f'm{{i="{i}"}} 1\n' for i in range(50)), "MAX_SAMPLES", 40),
    ])
    def test_a_file_past_a_limit_is_left_out_whole(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   name: str, text: str, limit: str, value: int) -> None:
        """A file past one cost limit is left out whole, scrape_error is 1 and a sibling is still served."""
        monkeypatch.setattr(textfile, limit, value)
        (tmp_path / "a-good.prom").write_text("good_metric 1\n")
        (tmp_path / f"b-{name}.prom").write_text(text + "also_here 1\n")
        with capture_logs() as logs:
            fams = by_name(collector(tmp_path).collect())
        assert "good_metric" in fams and "also_here" not in fams and "m" not in fams
        assert scrape_error(fams) == 1
        refused = [e for e in logs if e["event"] == "textfile_refused"]
        assert len(refused) == 1 and refused[0]["file"].endswith(f"b-{name}.prom")

    def test_under_every_limit_a_file_is_served(self, tmp_path: Path) -> None:
        """128 labels, a long label value and a few families pass: the limits refuse only what costs."""
        labels = ",".join(f'l{i}="a=b,c"' for i in range(128))  # "=" and "," inside values are not labels
        (tmp_path / "ok.prom").write_text(f"# HELP wide A wide series.\n# TYPE wide gauge\nwide{{{labels}}} 1\n"
                                          + 'long{v="' + "y" * 60000 + '"} 2\n')
        fams = by_name(collector(tmp_path).collect())
        assert len(fams["wide"].samples[0].labels) == 128 and fams["long"].samples[0].value == 2
        assert scrape_error(fams) == 0

    def test_samples_of_a_typed_family_count_as_that_family(self, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        """A histogram's _bucket/_sum/_count samples and a counter's _total count as one family each."""
        monkeypatch.setattr(textfile, "MAX_FAMILIES", 2)
        (tmp_path / "h.prom").write_text("# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 1\nlat_sum 2\nlat_count 1\n"
                                         "# TYPE jobs counter\njobs_total 3\n")
        fams = by_name(collector(tmp_path).collect())
        assert "lat" in fams and "jobs" in fams and scrape_error(fams) == 0

    def test_files_past_the_file_limit_are_not_read(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Only the first MAX_FILES files in name order are read (each costs an mtime series); more set
        scrape_error and log one line. Hidden files are not files to read."""
        monkeypatch.setattr(textfile, "MAX_FILES", 3)
        for i in range(5):
            (tmp_path / f"f{i}.prom").write_text(f"m{i} 1\n")
        (tmp_path / ".hidden.prom").write_text("hidden 1\n")
        with capture_logs() as logs:
            fams = by_name(collector(tmp_path).collect())
        assert {"m0", "m1", "m2"} <= set(fams) and not {"m3", "m4", "hidden"} & set(fams)
        assert len(fams["node_textfile_mtime_seconds"].samples) == 3 and scrape_error(fams) == 1
        assert [e["event"] for e in logs] == ["textfile_refused"]
        (tmp_path / "f3.prom").unlink()
        (tmp_path / "f4.prom").unlink()
        assert scrape_error(by_name(collector(tmp_path).collect())) == 0

    def test_total_bytes_are_shared_by_all_files(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Files are admitted in name order until the bytes of all files would pass the total."""
        monkeypatch.setattr(textfile, "MAX_TOTAL_BYTES", 100)
        (tmp_path / "a.prom").write_text("first 1\n" * 10)  # 80 bytes
        (tmp_path / "b.prom").write_text("second 1\n" * 3)  # 27 bytes: 107 in all
        fams = by_name(collector(tmp_path).collect())
        assert "first" in fams and "second" not in fams and scrape_error(fams) == 1

    def test_refusals_are_logged_once_per_interval(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Repeated refusals log one line per interval, the next one carrying the suppressed count."""
        monkeypatch.setattr(textfile, "MAX_LABELS", 1)
        for i in range(3):
            (tmp_path / f"f{i}.prom").write_text('m{a="1",b="2"} 1\n')
        c = collector(tmp_path)
        with capture_logs() as logs:
            for _ in range(4):
                assert scrape_error(by_name(c.collect())) == 1
        assert [e["event"] for e in logs] == ["textfile_refused"]

    def test_label_count_ignores_quoted_text(self) -> None:
        """Label counting skips '=' inside quoted values and escaped quotes."""
        assert textfile._labels_in('m{a="x=\\"=y",b="="} 1') == 2
        assert textfile._labels_in("m 1 # a=b") == 0


class Builtin(Collector):
    """A built-in collector serving node_time_seconds, a counter and the node_uname_info family."""

    name = "builtin"

    def __init__(self) -> None:
        super().__init__(load_config([]), Paths())
        self.fail = False

    def collect(self) -> Iterable[Metric]:
        if self.fail:
            raise OSError("gone this time")
        uname = GaugeMetricFamily("node_uname_info", "Labeled system information.", labels=["sysname"])
        uname.add_metric(["Linux"], 1)
        return [GaugeMetricFamily("node_time_seconds", "System time.", value=1.7e9), uname,
                CounterMetricFamily("node_vmstat_pgfault", "Page faults.", value=42)]


HOSTILE = ('node_time_seconds 0\nnode_uname_info{sysname="Evil"} 1\nnode_vmstat_pgfault_total 7\n'
           "node_textfile_scrape_error 0\n"
           'node_textfile_mtime_seconds{file="/etc/shadow"} 1\nspark_exporter_collector_success{collector="x"} 1\n'
           "process_resident_memory_bytes 1\nnightly_nccl_busbw_gbps 21.5\n")


class TestNoOverwrite:
    @pytest.mark.parametrize("textfile_first", [True, False])
    def test_built_in_families_win_whatever_the_order(self, tmp_path: Path, textfile_first: bool) -> None:
        """A file's series that name a built-in, node_textfile_* or the exporter's own are dropped and counted."""
        (tmp_path / "evil.prom").write_text(HOSTILE)
        (tmp_path / "broken.prom").write_text("this is { not prometheus\n")
        builtin = Builtin()
        collectors: list[Collector] = [collector(tmp_path), builtin]
        if not textfile_first:
            collectors.reverse()
        col = Collection(collectors, min_age=0)
        with capture_logs():
            body = col.collect_once().body.decode()
            builtin.fail = True  # a built-in name stays the built-in's when its collector fails
            second = col.collect_once().body.decode()
        fams = by_name(text_string_to_metric_families(body))
        assert [s.value for s in fams["node_time_seconds"].samples] == [1.7e9]
        assert [s.labels["sysname"] for s in fams["node_uname_info"].samples] == ["Linux"]
        assert [s.value for s in fams["node_vmstat_pgfault"].samples] == [42]
        assert [s.value for s in fams["node_textfile_scrape_error"].samples] == [1]
        assert [s.labels["file"] for s in fams["node_textfile_mtime_seconds"].samples] == [str(tmp_path / "evil.prom")]
        assert "x" not in {s.labels["collector"] for s in fams["spark_exporter_collector_success"].samples}
        assert fams["process_resident_memory_bytes"].samples[0].value > 1
        assert fams["nightly_nccl_busbw_gbps"].samples[0].value == 21.5
        dropped = {s.labels["reason"]: s.value for s in fams["spark_exporter_textfile_series_dropped"].samples}
        assert dropped == {"builtin": 3, "reserved": 4}
        later = by_name(text_string_to_metric_families(second))
        assert "node_time_seconds" not in later and "node_uname_info" not in later

    def test_a_gpu_field_not_served_yet_is_still_the_gpu_collectors(self, tmp_path: Path) -> None:
        """A file's DCGM_FI_PROF_SM_ACTIVE is dropped on the first collection too, when the GPU collector has no
        GPM interval yet and serves no sample of it (it used to be served from the file until then)."""
        files = tmp_path / "files"
        files.mkdir()
        (files / "fake.prom").write_text('DCGM_FI_PROF_SM_ACTIVE{gpu="0"} 0.99\nnightly_nccl_busbw_gbps 21.5\n')
        gpu = make_collector(SimulatedNvml("h100"), write_meminfo(tmp_path / "proc"), clock=Clock())
        try:
            col = Collection([collector(files), gpu], min_age=0)
            with capture_logs():
                fams = by_name(text_string_to_metric_families(col.collect_once().body.decode()))
        finally:
            gpu.close()
        assert "DCGM_FI_DEV_GPU_TEMP" in fams and "DCGM_FI_PROF_SM_ACTIVE" not in fams  # no interval yet
        assert fams["nightly_nccl_busbw_gbps"].samples[0].value == 21.5
        dropped = {s.labels["reason"]: s.value for s in fams["spark_exporter_textfile_series_dropped"].samples}
        assert dropped == {"builtin": 1, "reserved": 0}
