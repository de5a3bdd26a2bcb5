from __future__ import annotations

from collections.abc import Iterator

import pytest

from workload_cluster import WorkloadCluster, workload_cluster


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files under tests/golden/ instead of comparing")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def workloads() -> Iterator[WorkloadCluster]:
    """One real local Spark application and simulated vLLM 0.9 and 0.12, scraped by Prometheus with the
    generated config and rules/; shared by the Spark, vLLM and dashboard tests (tests/workload_cluster.py)."""
    with workload_cluster() as cluster:
        yield cluster
