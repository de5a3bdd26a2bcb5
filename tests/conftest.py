"""Shared test set-up: the integration marker, clusters shared per session, and the reference data.

- Every test that starts a process carries the ``integration`` marker, so ``pytest -m "not integration"``
  is the fast inner loop. Tests that use a process fixture (below, or a module's own) are marked
  automatically; a test that starts a process itself says so with ``@pytest.mark.integration``. An audit
  hook keeps this true: an unmarked test that starts a process fails, naming the process.
- Tests that only read from a simulated cluster share one per session (``gb10_cluster``) rather than
  starting their own; tests that stop or change processes keep their own.
- Reference data (``tests/reference/``, sources and licences in its SOURCES.md) is read through
  ``reference_file``, which fails with one line naming a missing file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.cluster import SimulatedCluster, simulated_cluster
from helpers.procs import Proc, prometheus
from helpers.reference import reference_file as find_reference_file
from helpers.workload_cluster import WorkloadCluster, workload_cluster

# Fixtures that start processes: a test using any of them (directly or through another fixture) is an
# integration test. Module fixtures are listed by name; keep this list when adding one.
PROCESS_FIXTURES = frozenset({
    "gb10_cluster", "empty_prometheus",  # here
    "cluster", "open_api", "token_api", "cors_api",  # test_api, test_query_cli, test_prometheus_integration
    "engine",  # test_query_rollups
    "resolved",  # test_dashboards
    "stack",  # test_gpu_dashboard
    "scrapes",  # test_parity_node_exporter
    "prom",  # test_promql_escaping, test_query_client
    "vm_cluster",  # test_vmalert
    "dist", "fresh_venv",  # test_packaging
    "workloads",  # here: test_spark, test_vllm_sim, test_dashboards, test_query_workloads
    "workload_api",  # test_query_workloads
})
# Tests that start processes themselves (the exporter, promtool, Prometheus, systemd-analyze, openssl,
# the CLI as a subprocess), by node id under tests/: a module, a class or one test.
PROCESS_TESTS = (
    "test_api.py::TestPrometheusDown",
    "test_collectors_host.py::TestFailureIsolation::test_daemon_serves_fixture_tree",
    "test_config.py::TestProcessStartup",
    "test_daemon.py",
    "test_demo.py",
    "test_gpu_faults.py::TestNoLibrary::test_real_exporter_without_nvml_serves_host_metrics",
    "test_gpu_golden.py::TestEndToEnd",
    "test_gpu_fakenvml.py",
    "test_gpu_record.py",
    "test_promconfig.py::TestConfigCommand",
    "test_promconfig.py::TestInventoryErrors",
    "test_prometheus_integration.py",
    "test_parity_node_exporter.py",
    "test_dashboard_coverage_node_exporter.py",
    "test_rdma_prometheus.py",
    "test_query_cli.py",
    "test_spark.py::TestSparkScrapeJobs::test_promtool_accepts_the_generated_config",
    "test_vllm_sim.py::TestServer",
    "test_query_httpconfig.py::TestBasicAuth",
    "test_query_httpconfig.py::TestTls",
    "test_query_hardening.py",
    "test_query_openapi.py",
    "test_query_overview.py",
    "test_query_rollups.py",
    "test_rules.py::TestPromtoolCheckRules",
    "test_rules.py::TestPromtoolUnitTests",
    "test_systemd.py",
    "test_vmalert.py",
    "test_webconfig.py::TestLoading::test_relative_paths_resolve_against_the_file",
    "test_webconfig.py::TestServing",
    "test_webconfig.py::TestClientAuth",
)
# Directories whose every test starts processes.
PROCESS_DIRS = ("tests/integration/hostile/",)
# Audit events raised when Python starts a process (subprocess, asyncio subprocesses, os.system, fork).
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.fork",
                            "os.forkpty", "os.exec"})
_unmarked_test: str | None = None  # node id of the unmarked test running now, if any


def _no_process_outside_integration(event: str, args: tuple[Any, ...]) -> None:
    if _unmarked_test is not None and event in PROCESS_EVENTS:
        what = " ".join(map(str, args[1])) if event == "subprocess.Popen" and args[1:] else str(args[:1])
        raise RuntimeError(f"{_unmarked_test} starts a process ({event}: {what[:200]}) but is not marked "
                           "integration: add @pytest.mark.integration (see tests/conftest.py)")


sys.addaudithook(_no_process_outside_integration)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files under tests/golden/ instead of comparing")


def _starts_processes(item: pytest.Item) -> bool:
    if any(item.nodeid.startswith(d) for d in PROCESS_DIRS):
        return True
    if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    node = item.nodeid.split("[")[0].split("/")[-1]  # test_x.py::TestY::test_z; parameters may hold "/"
    return any(node == prefix or node.startswith(prefix + "::") for prefix in PROCESS_TESTS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not item.get_closest_marker("integration") and _starts_processes(item):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _unmarked_test
    _unmarked_test = None if item.get_closest_marker("integration") else item.nodeid
    try:
        yield
    finally:
        _unmarked_test = None


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def reference_file() -> Callable[[str], Path]:
    """``reference_file("dashboards/x.json")``: that reference file's path, or one clear test failure."""

    def find(relative: str) -> Path:
        return find_reference_file(relative)

    return find


@pytest.fixture(scope="session")
def gb10_cluster() -> Iterator[SimulatedCluster]:
    """Two simulated GB10 nodes and a Prometheus with every rule, shared by the tests that only read from it."""
    with simulated_cluster(2, profile="gb10", interval="1s") as c:
        yield c


@pytest.fixture(scope="session")
def empty_prometheus() -> Iterator[Proc]:
    """A real Prometheus with no targets (a PromQL parser and API), shared by the tests that only query it."""
    with prometheus({"global": {"scrape_interval": "15s"}, "scrape_configs": []}) as p:
        yield p


@pytest.fixture(scope="session")
def workloads() -> Iterator[WorkloadCluster]:
    """One real local Spark application and simulated vLLM 0.9 and 0.12, scraped by Prometheus with the
    generated config and rules/; shared by the Spark, vLLM and dashboard tests (tests/workload_cluster.py)."""
    with workload_cluster() as cluster:
        yield cluster
