"""Shared test set-up: the integration marker, clusters shared per session, and the reference data.

- Tests that start processes live in ``tests/integration/`` and get the ``integration`` marker from
  there; ``tests/unit/`` (``pytest tests/unit`` or ``-m "not integration"``) is the fast inner loop. An
  audit hook keeps this true: a test outside tests/integration/ that starts a process fails, naming
  the test and the process.
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
import structlog

from helpers.cluster import SimulatedCluster, simulated_cluster
from helpers.procs import Proc, prometheus
from helpers.reference import reference_file as find_reference_file
from helpers.workload_cluster import WorkloadCluster, workload_cluster

# Tests under this directory start processes: the ``integration`` marker is set by where a test lives.
INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"
# Audit events raised when Python starts a process (subprocess, asyncio subprocesses, os.system, fork).
PROCESS_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.fork",
                            "os.forkpty", "os.exec"})
_unmarked_test: str | None = None  # node id of the running test outside tests/integration/, if any


def _no_process_outside_integration(event: str, args: tuple[Any, ...]) -> None:
    if _unmarked_test is not None and event in PROCESS_EVENTS:
        what = " ".join(map(str, args[1])) if event == "subprocess.Popen" and args[1:] else str(args[:1])
        raise RuntimeError(f"{_unmarked_test} starts a process ({event}: {what[:200]}) but is not under "
                           "tests/integration/: move it there (see tests/conftest.py)")


sys.addaudithook(_no_process_outside_integration)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite golden files under tests/golden/ instead of comparing")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    global _unmarked_test
    _unmarked_test = None if item.path.is_relative_to(INTEGRATION_DIR) else item.nodeid
    try:
        yield
    finally:
        _unmarked_test = None


@pytest.fixture(autouse=True)
def _default_logging() -> Iterator[None]:
    """Every test starts and ends with structlog's defaults: a command run in-process (``cli.main``) calls
    ``setup_logging``, whose level filter would otherwise hide later tests' events from ``capture_logs``."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


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
