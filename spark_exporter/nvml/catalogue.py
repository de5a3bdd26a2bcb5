"""The DCGM field catalogue (``spark_exporter/dcgm_fields.csv``): loaded and validated at start-up."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from dataclasses import dataclass
from importlib import resources

from ..settings.files import read_text_file
from ..settings.values import ConfigError

FIELD_RE = re.compile(r"^DCGM_FI_[A-Z0-9_]+$")
TYPES = ("gauge", "counter")


class CatalogueError(ValueError):
    """A catalogue row is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Field:
    """One row of dcgm_fields.csv: DCGM name, Prometheus type, HELP, NVML source (a READERS key), scale and
    line number.
    """

    name: str  # the DCGM field, which is also the metric name
    type: str  # gauge | counter
    help: str
    source: str  # a key of the collector's READERS
    multiplier: float  # applied to the NVML value
    divisor: int  # 1, or N for "1/N": divide and keep whole units (bytes -> whole MiB)
    line: int

    def scale(self, value: float) -> float:
        """The NVML value in the field's unit: times ``multiplier``, or integer-divided by ``divisor``
        (whole units) when that is not 1.
        """
        if self.divisor != 1:
            return float(int(value) // self.divisor)
        return value * self.multiplier


def _parse_scale(text: str) -> tuple[float, int]:
    if text.startswith("1/"):
        divisor = int(text[2:])
        if divisor <= 0:
            raise ValueError
        return 1.0, divisor
    multiplier = float(text)
    if not multiplier > 0:
        raise ValueError
    return multiplier, 1


def parse_catalogue(text: str, path: str, sources: Collection[str]) -> tuple[Field, ...]:
    """Parse catalogue text; every error names ``path`` and the line number."""
    fields: list[Field] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        where = f"{path}:{lineno}"
        row = [c.strip() for c in next(csv.reader([raw], skipinitialspace=True))]
        if len(row) != 5:
            raise CatalogueError(
                f"{where}: expected 5 columns (field, type, help, source, scale), got {len(row)}")
        name, typ, help_text, source, scale_text = row
        if not FIELD_RE.match(name):
            raise CatalogueError(f"{where}: invalid DCGM field name {name!r}")
        if name in seen:
            raise CatalogueError(f"{where}: field {name} already defined on line {seen[name]}")
        if typ not in TYPES:
            raise CatalogueError(f"{where}: type must be gauge or counter, got {typ!r}")
        if not help_text:
            raise CatalogueError(f"{where}: empty HELP text for {name}")
        if source not in sources:
            raise CatalogueError(f"{where}: unknown NVML source {source!r} for {name}")
        try:
            multiplier, divisor = _parse_scale(scale_text)
        except ValueError:
            raise CatalogueError(
                f"{where}: scale must be a positive number or 1/N, got {scale_text!r}") from None
        seen[name] = lineno
        fields.append(Field(name, typ, help_text, source, multiplier, divisor, lineno))
    if not fields:
        raise CatalogueError(f"{path}: no fields")
    return tuple(fields)


def load_catalogue(sources: Collection[str], path: str | None = None) -> tuple[Field, ...]:
    """Load the packaged catalogue (or ``path``)."""
    if path is None:
        ref = resources.files("spark_exporter").joinpath("dcgm_fields.csv")
        return parse_catalogue(ref.read_text(encoding="utf-8"), str(ref), sources)
    try:
        text = read_text_file(path, "DCGM field catalogue")
    except ConfigError as e:
        raise CatalogueError(str(e)) from None
    return parse_catalogue(text, path, sources)
