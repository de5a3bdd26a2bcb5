"""node_exporter's own alerts and recording rules (its mixin, compiled into tests/reference/node-exporter/) on a
real Prometheus: every expression with data under Debian's node_exporter has data under ours, on node_exporter's
fixture trees, which hold md arrays (some degraded) and bonds (one degraded)."""

from __future__ import annotations

import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from helpers.procs import Proc, exporter, node_exporter, prom_query, prometheus, wait_for

MIXIN = Path(__file__).resolve().parent.parent / "reference" / "node-exporter"
RULE_FILES = (MIXIN / "node-mixin-alerts.yml", MIXIN / "node-mixin-rules.yml")


def expressions() -> list[tuple[str, str]]:
    """(alert or record name, expression) of every rule of the mixin."""
    out = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend((r.get("alert") or r["record"], r["expr"]) for r in group["rules"])
    return out


NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed
    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0
  eth0: 123456 789 1 2 0 0 0 3 654321 987 0 1 0 0 0 0
"""


@dataclass
class Stack:
    ours: Proc
    theirs: Proc


def _config(target: Proc) -> dict:
    return {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "node", "static_configs": [{"targets": [target.address]}]}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, reference_file: Callable[[str], Path]) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("mixin")
    with tarfile.open(reference_file("node-exporter-fixtures/fixtures.tar.gz")) as tar:
        tar.extractall(root, filter="tar")
    # node_exporter 1.5.0 reads interface counters over netlink from the live kernel, not from the trees, which
    # have no /proc/net/dev; ours reads that file, so the copy gets one (two devices; static counters, whose
    # rate() of 0 is data).
    (root / "proc" / "net" / "dev").write_text(NET_DEV)
    paths = [f"--path.procfs={root}/proc", f"--path.sysfs={root}/sys", f"--path.rootfs={root}",
             f"--path.udev.data={root}/udev/data"]
    with node_exporter(*paths) as ne, exporter(*paths, "--no-collector.gpu") as ours, \
            prometheus(_config(ne), RULE_FILES) as p_ne, prometheus(_config(ours), RULE_FILES) as p_ours:
        for p in (p_ne, p_ours):  # rate() and the rules need a few scrapes and evaluations
            wait_for(lambda p=p: len(prom_query(p.url, "count_over_time(up[1m])")) == 1
                     and prom_query(p.url, "count_over_time(up[1m])")[0]["value"][1] >= "6",
                     timeout=60, what="six scrapes")
        time.sleep(2)
        yield Stack(p_ours, p_ne)


class TestNodeMixin:
    def test_mixin_is_complete(self) -> None:
        """The compiled mixin holds node_exporter's 41 rules, the RAID and bonding alerts among them."""
        names = [n for n, _ in expressions()]
        assert len(names) == 41
        assert {"NodeRAIDDegraded", "NodeRAIDDiskFailure", "NodeBondingDegraded"} <= set(names)

    def test_every_expression_with_data_under_node_exporter_has_data_under_ours(
            self, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        """Each alert and recording rule expression that returns series under node_exporter does under ours."""
        with_data = [(n, e) for n, e in expressions() if prom_query(stack.theirs.url, e)]
        missing = [n for n, e in with_data if not prom_query(stack.ours.url, e)]
        with capsys.disabled():
            print(f"\nnode mixin: {len(with_data) - len(missing)}/{len(with_data)} expressions with data under "
                  f"node_exporter have data under ours ({len(expressions())} in all)")
        assert with_data, "no expression had data under node_exporter: the check is empty"
        assert missing == [], missing

    @pytest.mark.parametrize("alert", ["NodeRAIDDegraded", "NodeRAIDDiskFailure", "NodeBondingDegraded"])
    def test_raid_and_bonding_alerts_fire_on_the_trees(self, stack: Stack, alert: str) -> None:
        """The trees' degraded arrays, failed disks and degraded bond make these alerts' expressions true."""
        expr = dict(expressions())[alert]
        assert prom_query(stack.ours.url, expr), alert
