"""Node Exporter Full coverage: of the dashboard's queries with data under node_exporter, the share with data from ours.

Usage: python bench/dashboard_coverage.py [DASHBOARD.json]
(default: the shared reference copy of "Node Exporter Full", grafana.com id 1860)

Starts Debian's node_exporter and our exporter with their default collectors (GPU off) and one real
Prometheus scraping both every second, then runs every panel query for each job, exactly as
tests/test_dashboard_coverage_node_exporter.py does (that test fails below 95%). Prints the share and
the queries that have data under node_exporter only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

from helpers.dashboard_coverage import (  # noqa: E402
    measure,
    panel_queries,
    reference_dashboard,
    side_by_side,
)


def main(argv: list[str]) -> int:
    dashboard = Path(argv[0]) if argv else reference_dashboard()
    queries = panel_queries(json.loads(dashboard.read_text()))
    with side_by_side() as (url, ne, ours):
        cov = measure(url, queries, ne, ours)
    print(f"dashboard: {dashboard.name}")
    print(f"queries: {len(queries)}  with data under node_exporter: {len(cov.with_data)}")
    print(f"with data from ours too: {len(cov.covered)}  share: {cov.share:.1%}")
    print("queries with data under node_exporter only:")
    for q in cov.missing:
        print(f"  {q}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
