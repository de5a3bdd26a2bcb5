"""Metrics from ``*.prom`` files in a directory (node_exporter's textfile collector).

Cron jobs and scripts (a nightly NCCL bandwidth test, a firmware check) write Prometheus text files
into ``--collector.textfile.directory``; each is parsed with prometheus-client's text parser and its families are
served as they are. ``node_textfile_mtime_seconds{file}`` gives each file's modification time (its full
path, as current node_exporter labels it) and ``node_textfile_scrape_error`` is 1 when any file could
not be read or parsed. A bad file is left out whole, never half-served: one that does not parse, uses
client-side timestamps (which node_exporter refuses too), redefines a family another file defined with
a different type, or passes one of the limits below. The limits bound what a file costs to parse, not
just its size, and are checked by one linear scan of the text BEFORE it is parsed (prometheus-client's
parser is roughly quadratic in the labels of one line):

* ``MAX_FILE_BYTES`` (4 MiB) per file and ``MAX_TOTAL_BYTES`` (16 MiB) for all files together;
* ``MAX_LINE`` (64 KiB) characters per line;
* ``MAX_LABELS`` (128) labels per series;
* ``MAX_FILES`` (10,000) files, the first in name order (more set ``node_textfile_scrape_error``);
* ``MAX_SAMPLES`` (100,000) sample lines and ``MAX_FAMILIES`` (10,000) families named by ``# HELP`` or
  ``# TYPE`` lines (a family with no samples costs as much) or by sample lines, both for all files together.

A refused file is logged as ``textfile_refused`` at most once per minute (with a ``suppressed=`` count).
Files may not write ``node_textfile_*`` (those are the collector's own) or, because the collection
gives every built-in family precedence, any family a built-in collector or the exporter itself serves:
see ``spark_exporter.exporter.collection``. Without a directory only ``node_textfile_scrape_error``
(0) is served, as node_exporter does; a directory that cannot be listed sets it to 1.
"""

from __future__ import annotations

import errno
import heapq
import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from ..logs import RateLimitedLog
from ..settings import ExporterConfig, str_option
from . import register
from ._files import read_bytes
from .base import Collector, ForeignFamily, Paths

MAX_FILE_BYTES = 4 << 20  # bytes per file
MAX_TOTAL_BYTES = 16 << 20  # bytes of all files of one collection
MAX_LINE = 64 << 10  # characters per line
MAX_LABELS = 128  # labels per series
# Samples from all files of one collection: parsed series cost about 1 kB each in Python, so this bounds
# the collector to roughly 100 MB however the files are written.
MAX_SAMPLES = 100_000
MAX_FILES = 10_000  # *.prom files read per collection (each costs an open, a stat and an mtime series)
MAX_FAMILIES = 10_000  # distinct families in # HELP / # TYPE lines and sample names, all files together
LOG_INTERVAL = 60.0  # seconds between two textfile_refused lines


class TooCostly(ValueError):
    """A file passes one of the cost limits; the message says which."""


def _labels_in(line: str) -> int:
    """The number of labels of one sample line (``=`` outside quoted values); linear in the line."""
    count = 0
    quoted = escaped = False
    for ch in line[line.find("{"):]:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = quoted
        elif ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == "=":
                count += 1
            elif ch == "}":
                break
    return count


#: Sample name suffixes of one family (histogram, summary, counter, info; OpenMetrics' gauge histogram).
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created", "_info", "_gcount", "_gsum")


def _add_family(sample_line: str, families: set[str]) -> None:
    """Add the family of one sample line to ``families``: its name, unless that name or its name less a
    suffix (``foo_bucket`` of ``# TYPE foo histogram``) is there already. A family with samples and no
    ``# TYPE`` costs as much as one with it (99,999 such lines were 5.7 MB of /metrics)."""
    head = sample_line.split("{", 1)[0].split(None, 1)
    name = head[0] if head else ""  # "" for a line starting with "{", which the parser refuses later
    if not name or name in families:
        return
    if not any(name.endswith(s) and name[: -len(s)] in families for s in _SUFFIXES):
        families.add(name)


def scan_cost(text: str, families: set[str]) -> int:
    """Check ``text`` against the line and label limits, add the families it names (``# HELP``/``# TYPE``
    lines and sample names) to ``families``, and return its number of sample lines. Raises TooCostly; never
    parses a sample."""
    samples = 0
    # Lines as the parser splits them (at "\n" only): str.splitlines() also splits at "\r", "\x1c" ... inside a
    # label value, and a line of 99,000 labels valued "\x1c" passed as 99,001 short lines (15 s to parse).
    for line in text.split("\n"):
        if len(line) > MAX_LINE:
            raise TooCostly(f"a line of {len(line)} characters passes the limit of {MAX_LINE}")
        stripped = line.lstrip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            parts = stripped.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                families.add(parts[2])
            continue
        samples += 1
        _add_family(stripped, families)
        # Every label has an "=", so few "=" signs need no closer look.
        if line.count("=") > MAX_LABELS and _labels_in(line) > MAX_LABELS:
            raise TooCostly(f"a series with more than {MAX_LABELS} labels")
    return samples


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
    foreign = True
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
        self._refused = RateLimitedLog(self.log, "textfile_refused", LOG_INTERVAL)

    def _files(self) -> tuple[list[str], bool]:
        """The directory's first MAX_FILES ``*.prom`` files (not hidden ones, as glob) in name order, and
        whether there are more. The names are streamed: a million files cost MAX_FILES names of memory.
        Raises OSError when the directory cannot be listed."""
        with os.scandir(self._dir) as entries:
            names = heapq.nsmallest(MAX_FILES + 1, (e.name for e in entries
                                                    if e.name.endswith(".prom") and not e.name.startswith(".")))
        return [os.path.join(self._dir, n) for n in names[:MAX_FILES]], len(names) > MAX_FILES

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        merged: dict[str, Metric] = {}
        mtime = GaugeMetricFamily(
            "node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.", labels=["file"]
        )
        error = 0.0
        if self._dir and not os.path.isdir(self._dir):
            self._refused(file=self._dir, error="directory cannot be read")
            error = 1.0
        files: list[str] = []
        if self._dir and not error:
            try:
                files, more = self._files()
            except OSError as e:
                self._refused(file=self._dir, error=f"directory cannot be listed: {e}"[:300])
                error = 1.0
            else:
                if more:
                    self._refused(file=self._dir, error=f"more than {MAX_FILES} files: only the first "
                                                        f"{MAX_FILES} in name order are read")
                    error = 1.0
        samples_left, bytes_left = MAX_SAMPLES, MAX_TOTAL_BYTES
        families: set[str] = set()
        for path in files:
            try:
                raw = read_bytes(path, min(MAX_FILE_BYTES, bytes_left))
                text = raw.decode("utf-8", errors="replace")
                named = set(families)
                lines = scan_cost(text, named)
                if lines > samples_left:
                    raise TooCostly(f"{lines} samples would pass the limit of {MAX_SAMPLES} samples for all "
                                    "text files together")
                if len(named) > MAX_FAMILIES:
                    raise TooCostly(f"its families would pass the limit of {MAX_FAMILIES} for all text files "
                                    "together")
                fams = parse_file(text)
                stamp = os.stat(path).st_mtime
                clash = [f.name for f in fams if f.name in merged and merged[f.name].type != f.type]
                if clash:
                    raise ValueError(f"type of {clash[0]} differs from another file's")
            except (OSError, ValueError) as e:
                if isinstance(e, OSError) and e.errno == errno.EFBIG:
                    e = TooCostly(f"larger than {min(MAX_FILE_BYTES, bytes_left)} bytes (the limit per file is "
                                  f"{MAX_FILE_BYTES}, for all files {MAX_TOTAL_BYTES})")
                self._refused(file=path, error=str(e)[:300])
                error = 1.0
                continue
            samples_left -= lines
            bytes_left -= len(raw)
            families = named
            for fam in fams:
                if fam.name in merged:
                    merged[fam.name].samples.extend(fam.samples)
                else:
                    merged[fam.name] = ForeignFamily.of(fam)
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
