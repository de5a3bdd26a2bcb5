"""Metrics from ``*.prom`` files in a directory (node_exporter's textfile collector).

Cron jobs and scripts (a nightly NCCL bandwidth test, a firmware check) write Prometheus text files
into ``--collector.textfile.directory``; each is parsed with prometheus-client's text parser and its families are
served as they are. ``node_textfile_mtime_seconds{file}`` gives each file's modification time (its full
path, as current node_exporter labels it) and ``node_textfile_scrape_error`` is 1 when any file could
not be read or parsed. A bad file is left out whole, never half-served: one that does not parse, uses
client-side timestamps (which node_exporter refuses too), is larger than the read cap, would take the
samples of all files past MAX_SAMPLES (100,000), or redefines a
family another file defined with a different type. Without a directory only ``node_textfile_scrape_error``
(0) is served, as node_exporter does; a directory that cannot be listed sets it to 1.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from ..settings import ExporterConfig, str_option
from . import register
from ._files import read_text
from .base import Collector, Paths

_MAX_FILE = 16 << 20  # bytes per file
# Samples from all files of one collection: parsed series cost about 1 kB each in Python, so this bounds
# the collector to roughly 100 MB however the files are written. Counted from the sample lines before
# parsing, so an oversized file is refused without building its series.
MAX_SAMPLES = 100_000


def parse_file(text: str) -> list[Metric]:
    """The families of one text file. Raises ValueError for syntax errors and client-side timestamps."""
    fams = list(text_string_to_metric_families(text))
    for fam in fams:
        if any(s.timestamp is not None for s in fam.samples):
            raise ValueError(f"{fam.name}: client-side timestamps are not supported")
    return fams


@register
class TextfileCollector(Collector):
    """Serves the families of ``*.prom`` files and node_textfile_* from ``--collector.textfile.directory``.

    See the module docstring.
    """

    name = "textfile"
    options = (
        str_option(
            "collector.textfile.directory",
            "",
            "Directory to read text files with metrics from (empty: none is read).",
            metavar="DIR",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._dir = config["collector.textfile.directory"] or ""

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        merged: dict[str, Metric] = {}
        mtime = GaugeMetricFamily(
            "node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.", labels=["file"]
        )
        error = 0.0
        if self._dir and not os.path.isdir(self._dir):
            self.log.warning("textfile_directory_unreadable", directory=self._dir)
            error = 1.0
        files = sorted(glob.glob(os.path.join(glob.escape(self._dir), "*.prom"))) if self._dir else []
        budget = MAX_SAMPLES
        for path in files:
            try:
                text = read_text(path, _MAX_FILE)
                lines = sum(1 for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
                if lines > budget:
                    raise ValueError(f"{lines} samples would pass the limit of {MAX_SAMPLES} samples for all "
                                     "text files together")
                fams = parse_file(text)
                stamp = os.stat(path).st_mtime
                clash = [f.name for f in fams if f.name in merged and merged[f.name].type != f.type]
                if clash:
                    raise ValueError(f"type of {clash[0]} differs from another file's")
            except (OSError, ValueError) as e:
                self.log.warning("textfile_unreadable", file=path, error=str(e))
                error = 1.0
                continue
            budget -= lines
            for fam in fams:
                if fam.name in merged:
                    merged[fam.name].samples.extend(fam.samples)
                else:
                    merged[fam.name] = fam
            mtime.add_metric([path], stamp)
        out: list[Metric] = list(merged.values())
        if mtime.samples:
            out.append(mtime)
        out.append(
            GaugeMetricFamily(
                "node_textfile_scrape_error",
                "1 if there was an error opening or reading a file, 0 otherwise",
                value=error,
            )
        )
        return out
