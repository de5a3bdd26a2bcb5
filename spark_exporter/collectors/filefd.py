"""File handles from <procfs>/sys/fs/file-nr (node_exporter's filefd collector).

``node_filefd_allocated`` is the first field (handles in use), ``node_filefd_maximum`` the third
(``fs.file-max``). The middle field (always 0 since Linux 2.6) is not served.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


def parse_file_nr(text: str) -> tuple[float, float]:
    """(allocated, maximum) from file-nr's three tab-separated numbers. Raises ValueError."""
    fields = text.split()
    if len(fields) != 3:
        raise ValueError(f"expected 3 fields in file-nr, got {len(fields)}")
    return float(int(fields[0])), float(int(fields[2]))


@register
class FilefdCollector(Collector):
    """Serves node_filefd_allocated and node_filefd_maximum from <procfs>/sys/fs/file-nr (see module docstring)."""

    name = "filefd"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        allocated, maximum = parse_file_nr(read_text(self.paths.proc("sys", "fs", "file-nr")))
        return [
            GaugeMetricFamily("node_filefd_allocated", "File descriptor statistics: allocated.", value=allocated),
            GaugeMetricFamily("node_filefd_maximum", "File descriptor statistics: maximum.", value=maximum),
        ]
