"""Share of a Grafana dashboard's queries whose metric names all appear in our exporter's output.

Usage: python bench/dashboard_coverage.py [DASHBOARD.json]
(default: /work/shared/reference/dashboards/node-exporter-full.json, "Node Exporter Full", id 1860)

Our output is collected in-process with the GPU collector off, twice: on this machine's /proc and /sys,
and on the GB10-like fixture tree in tests/fixtures/host (which has hwmon chips, udev data, PSI and
ConnectX-7 ports this build machine lacks). Sample names are used, so counters count with ``_total``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from spark_exporter.cli import load_config, make_collectors
from spark_exporter.exporter.collection import Collection

REPO = Path(__file__).resolve().parent.parent
DEFAULT = Path("/work/shared/reference/dashboards/node-exporter-full.json")
FIXTURE = REPO / "tests" / "fixtures" / "host"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
_PREFIXED = re.compile(r"\b((?:node|process)_[a-zA-Z0-9_:]*)")


def expressions(obj: object) -> Iterator[str]:
    """Every ``expr`` string of every panel target, nested rows included."""
    if isinstance(obj, dict):
        if isinstance(obj.get("expr"), str):
            yield obj["expr"]
        for v in obj.values():
            yield from expressions(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from expressions(v)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: names before ``{``, plus bare node_/process_ names."""
    bare = _STRING.sub('""', expr)
    return set(_SELECTOR.findall(bare)) | set(_PREFIXED.findall(bare))


def emitted(*argv: str) -> set[str]:
    cfg = load_config(["--no-collector.gpu", *argv])
    loop = Collection(make_collectors(cfg), timeout=cfg["collect.timeout"])
    body = loop.collect_once().body.decode()
    loop.stop()
    return {s.name for f in text_string_to_metric_families(body) for s in f.samples}


def main(argv: list[str]) -> int:
    dashboard = Path(argv[0]) if argv else DEFAULT
    panels = json.loads(dashboard.read_text()).get("panels", [])
    ours = emitted() | emitted(f"--path.procfs={FIXTURE}/proc", f"--path.sysfs={FIXTURE}/sys",
                               f"--path.rootfs={FIXTURE}/rootfs")
    queries = [e for e in expressions(panels) if metric_names(e)]
    covered = [q for q in queries if metric_names(q) <= ours]
    missing: dict[str, int] = {}
    for q in queries:
        for name in metric_names(q) - ours:
            missing[name] = missing.get(name, 0) + 1
    print(f"dashboard: {dashboard.name}")
    print(f"queries: {len(queries)}  covered: {len(covered)}  share: {len(covered) / len(queries):.1%}")
    print("metric names not emitted (queries using them):")
    for name, n in sorted(missing.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {name} ({n})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
