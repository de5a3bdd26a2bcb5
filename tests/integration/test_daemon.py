"""The daemon's HTTP surface and configuration, against the real process."""

from __future__ import annotations

import gzip

from helpers.procs import exporter, http_get, parse_metrics


class TestEndpoints:
    def test_metrics_serves_text_format_with_self_metrics(self) -> None:
        """/metrics serves the 0.0.4 text format including per-collector success and build info."""
        with exporter("--collector.loadavg") as p:
            status, body, headers = http_get(p.url + "/metrics")
            assert status == 200
            assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
            fams = parse_metrics(body.decode())
            assert "node_load1" in fams
            success = {s.labels["collector"]: s.value for s in fams["spark_exporter_collector_success"].samples}
            assert success["loadavg"] == 1.0
            assert fams["spark_exporter_build_info"].samples[0].labels["version"]

    def test_gzip_when_asked(self) -> None:
        """A client that accepts gzip gets a gzip body that decodes to the same exposition."""
        with exporter() as p:
            status, body, headers = http_get(p.url + "/metrics", headers={"Accept-Encoding": "gzip"})
            assert status == 200 and headers.get("Content-Encoding") == "gzip"
            assert b"spark_exporter_collector_success" in gzip.decompress(body)

    def test_unknown_path_404_and_post_405(self) -> None:
        """Unknown paths get 404 and non-GET methods get 405, both with a JSON body."""
        import urllib.request
        with exporter() as p:
            status, body, _ = http_get(p.url + "/nope")
            assert status == 404 and body.startswith(b"{")
            req = urllib.request.Request(p.url + "/metrics", method="POST", data=b"")
            try:
                urllib.request.urlopen(req, timeout=5)
                raise AssertionError("POST should fail")
            except urllib.error.HTTPError as e:
                assert e.code == 405
                assert b"not allowed" in e.read()

    def test_health_and_ready(self) -> None:
        """/-/healthy answers 200 at once and /-/ready answers 200 after the first collection."""
        with exporter() as p:
            assert http_get(p.url + "/-/healthy")[0] == 200
            assert http_get(p.url + "/-/ready")[0] == 200


def _collected_at(url: str) -> float:
    fams = parse_metrics(http_get(url + "/metrics")[1].decode())
    return float(fams["spark_exporter_last_collection_timestamp_seconds"].samples[0].value)


class TestScrapeDriven:
    def test_every_scrape_collects_with_min_age_zero(self) -> None:
        """With --collect.min-age=0s each scrape serves a collection newer than the one before."""
        with exporter("--collector.loadavg", "--collect.min-age=0s") as p:
            first = _collected_at(p.url)
            assert _collected_at(p.url) > first

    def test_recent_collection_is_served_again_within_min_age(self) -> None:
        """With a long --collect.min-age a second scrape serves the first scrape's collection."""
        with exporter("--collector.loadavg", "--collect.min-age=1h") as p:
            assert _collected_at(p.url) == _collected_at(p.url)

    def test_removed_interval_flag_exits_2_naming_its_replacement(self) -> None:
        """--collect.interval stops start-up with exit 2 and one line naming --collect.min-age."""
        import subprocess

        from helpers.procs import PYTHON
        out = subprocess.run([PYTHON, "-m", "spark_exporter", "--collect.interval=5s"], capture_output=True,
                             text=True, timeout=60)
        assert out.returncode == 2
        assert out.stderr.splitlines() == [
            "spark-exporter: error: --collect.interval was removed: use --collect.min-age instead"]
