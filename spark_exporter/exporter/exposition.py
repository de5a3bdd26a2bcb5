"""Render metric families to the Prometheus text format 0.0.4 with prometheus-client.

The bytes are prometheus-client's ``generate_latest`` output, with one rewrite: for each
:class:`~spark_exporter.exporter.families.ExactCounterFamily` (a DCGM counter without ``_total``) the
``# TYPE X gauge`` line the library writes becomes ``# TYPE X counter``, which is what dcgm-exporter
writes (the golden tests in ``tests/golden/`` pin those bytes).

Before rendering, the families are checked, without changing them:

* families that share a name and a type are served as one family (the first one's HELP), in the
  position of the first;
* a family whose name was already taken by a family of another type is an error: it is left out;
* a sample whose (name, labels) pair was already served is an error: it is left out.

Each kind of error is logged at warning level once per metric name for the life of the ``warned`` set
the caller passes in (the collection keeps one for the life of the process), and at debug level after.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric

from .families import ExactCounterFamily

__all__ = ["CONTENT_TYPE", "ExactCounterFamily", "check", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

log = structlog.get_logger(component="exposition")


class _Families:
    """The ``collect()`` interface ``generate_latest`` reads, over a fixed list."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Sequence[Metric]:
        return self._families


def _type_of(family: Metric) -> str:
    return "exact-counter" if isinstance(family, ExactCounterFamily) else family.type


def _report(warned: set[tuple[str, str]] | None, event: str, name: str, **details: object) -> None:
    key = (event, name)
    if warned is not None and key in warned:
        log.debug(event, metric=name, **details)
        return
    if warned is not None:
        warned.add(key)
    log.warning(event, metric=name, **details)


def check(families: Iterable[Metric], warned: set[tuple[str, str]] | None = None) -> list[Metric]:
    """Return the families to serve: same-name families joined, type clashes and duplicate series out.

    The input families are not modified; a joined or filtered family is a new ``Metric`` (or
    ``ExactCounterFamily``) with the first family's name, HELP and type.
    """
    by_name: dict[str, list[Metric]] = {}
    for fam in families:
        group = by_name.get(fam.name)
        if group is None:
            by_name[fam.name] = [fam]
        elif _type_of(group[0]) != _type_of(fam):
            _report(warned, "metric_type_clash", fam.name, served=_type_of(group[0]), dropped=_type_of(fam))
        else:
            group.append(fam)
    out: list[Metric] = []
    for name, group in by_name.items():
        first = group[0]
        seen: set[tuple[object, ...]] = set()
        kept = []
        dropped = 0
        for fam in group:
            for s in fam.samples:
                key = (s.name, *sorted(s.labels.items()))
                if key in seen:
                    dropped += 1
                else:
                    seen.add(key)
                    kept.append(s)
        if dropped:
            _report(warned, "duplicate_series", name, dropped=dropped)
        if len(group) == 1 and not dropped:
            out.append(first)
            continue
        copy = (ExactCounterFamily(name, first.documentation) if isinstance(first, ExactCounterFamily)
                else Metric(name, first.documentation, first.type, first.unit))
        copy.samples = kept
        out.append(copy)
    return out


def render(families: Iterable[Metric], warned: set[tuple[str, str]] | None = None) -> bytes:
    """The text exposition of ``families`` after :func:`check`, in their order (UTF-8 bytes)."""
    served = check(families, warned)
    body = generate_latest(_Families(served))  # type: ignore[arg-type]
    for fam in served:
        if isinstance(fam, ExactCounterFamily):
            line = f"\n# TYPE {fam.name} ".encode()
            body = body.replace(line + b"gauge\n", line + b"counter\n", 1)
    return body
