"""Text files that cost more than their size says, or that try to overwrite the truth, against the real exporter."""

from __future__ import annotations

import time
from pathlib import Path

from helpers.procs import exporter, http_get, parse_metrics, tempdir
from helpers.procstat import cpu_seconds, rss_bytes

RSS_LIMIT = 150 << 20  # bytes
SCRAPES = 3


def write_attack(d: Path) -> None:
    """The issue's two attacks, each once as filed and once cut to fit under the byte limits."""
    labels = ",".join(f'l{i}=""' for i in range(1_000_000))
    (d / "a-million-labels.prom").write_text(f"m{{{labels}}} 1\n")  # 11.9 MB, one sample
    (d / "b-wide-line.prom").write_text("m{" + ",".join(f'l{i}=""' for i in range(300_000)) + "} 1\n")  # 2.9 MB
    (d / "c-types.prom").write_text("".join(f"# TYPE fam_{i} gauge\n" for i in range(588_888)))  # 12 MB
    for part in range(3):  # 3 MB each: under the byte limits, past the family limit
        (d / f"d-types-{part}.prom").write_text(
            "".join(f"# TYPE fam_{part}_{i} gauge\n" for i in range(150_000)))
    (d / "e-good.prom").write_text("# TYPE nightly_nccl_busbw_gbps gauge\nnightly_nccl_busbw_gbps 21.5\n")


def test_costly_textfiles_are_refused_before_parsing() -> None:
    """Scrapes keep answering with the textfile collector succeeding, the good file served, the costly
    ones refused (scrape_error 1, one log line), and RSS below 150 MB."""
    with tempdir("textfiles") as d:
        write_attack(d)
        with exporter(f"--textfile.directory={d}", "--collect.min-age=0s") as p:
            for _ in range(SCRAPES):
                status, body, _ = http_get(p.url + "/metrics", timeout=30)
                assert status == 200
                fams = parse_metrics(body.decode())
                success = {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}
                assert success["textfile"] == 1
                assert fams["node_textfile_scrape_error"].samples[0].value == 1
                assert fams["nightly_nccl_busbw_gbps"].samples[0].value == 21.5
                assert not any(name.startswith("fam_") for name in fams) and "m" not in fams
                assert len(body) < 2 << 20
            assert rss_bytes(p.popen.pid) < RSS_LIMIT
            # Between scrapes the refused files cost nothing (at most a tenth of a core).
            before = cpu_seconds(p.popen.pid)
            time.sleep(3)
            assert cpu_seconds(p.popen.pid) - before < 0.3
            log = p.log()
            assert log.count("textfile_refused") == 1 and "Traceback" not in log


def test_textfiles_cannot_overwrite_built_in_or_own_families() -> None:
    """A file's node_time_seconds, node_uname_info, node_vmstat_*, node_textfile_* and exporter families are
    dropped and counted; the real collectors' series are served; a file's other series are kept."""
    with tempdir("textfiles") as d:
        (d / "evil.prom").write_text(
            "node_time_seconds 0\n"
            'node_uname_info{sysname="Evil",release="x",version="x",machine="x",nodename="x",domainname="x"} 1\n'
            "node_vmstat_pgfault 7\nnode_textfile_scrape_error 0\n"
            'node_textfile_mtime_seconds{file="/etc/shadow"} 1\n'
            'spark_exporter_collector_success{collector="gpu"} 1\nnightly_check 1\n')
        (d / "sibling.prom").write_text("not { a metric\n")
        with exporter(f"--textfile.directory={d}", "--collect.min-age=0s") as p:
            status, body, _ = http_get(p.url + "/metrics", timeout=30)
            assert status == 200
            fams = parse_metrics(body.decode())
            assert fams["node_time_seconds"].samples[0].value > 1e9
            assert {s.labels["sysname"] for s in fams["node_uname_info"].samples} == {"Linux"}
            assert [s.value for s in fams["node_textfile_scrape_error"].samples] == [1]
            assert {s.labels["file"] for s in fams["node_textfile_mtime_seconds"].samples} == {str(d / "evil.prom")}
            assert fams["nightly_check"].samples[0].value == 1
            assert [s.value for s in fams["node_vmstat_pgfault"].samples] != [7]
            dropped = {s.labels["reason"]: s.value for s in fams["spark_exporter_textfile_series_dropped"].samples}
            assert dropped["builtin"] == 3 and dropped["reserved"] == 3
            assert "Traceback" not in p.log()
