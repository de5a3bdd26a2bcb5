"""Host collectors on the fixture tree (tests/fixtures/host/): make one, collect it, read its samples."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from helpers.procs import REPO
from spark_exporter.collectors import load_all
from spark_exporter.collectors.base import Collector, Paths
from spark_exporter.exporter.daemon import load_config
from spark_exporter.exporter.exposition import render

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "host"


def make(name: str, *flags: str, root: Path = FIXTURE) -> Collector:
    """Instantiate one registered collector on a fixture root, with optional extra flags. netdev reads the
    root's files (``--no-collector.netdev.netlink``): by default it asks the live kernel over netlink."""
    cfg = load_config(
        [f"--path.procfs={root}/proc", f"--path.sysfs={root}/sys", f"--path.rootfs={root}/rootfs",
         "--no-collector.netdev.netlink", *flags]
    )
    return load_all()[name](cfg, Paths.from_config(cfg))


def parsed(families: Iterable[Metric]) -> dict[str, Metric]:
    """Render like /metrics does and parse back, so assertions see what a scraper sees."""
    return {f.name: f for f in text_string_to_metric_families(render(list(families)).decode())}


def collect(name: str, *flags: str, root: Path = FIXTURE) -> dict[str, Metric]:
    return parsed(make(name, *flags, root=root).collect())


def values(fam: Metric, key: str) -> dict[str, float]:
    """Map one label's value to the sample value (for single-label families)."""
    return {s.labels[key]: s.value for s in fam.samples}


def sysfs_with_hwmon(root: Path) -> Path:
    """This host's /sys, with class/hwmon replaced by one fixture chip and class/infiniband by the GB10 fixture's
    ConnectX-7 RDMA ports (the test host may have neither)."""
    sysfs = root / "sys"
    (sysfs / "class").mkdir(parents=True)
    for entry in os.listdir("/sys"):
        if entry != "class":
            (sysfs / entry).symlink_to(Path("/sys") / entry)
    for entry in os.listdir("/sys/class"):
        if entry not in ("hwmon", "infiniband"):
            (sysfs / "class" / entry).symlink_to(Path("/sys/class") / entry)
    shutil.copytree(REPO / "tests/fixtures/host/sys/class/infiniband", sysfs / "class" / "infiniband")
    chip = sysfs / "class" / "hwmon" / "hwmon0"
    chip.mkdir(parents=True)
    (chip / "name").write_text("acpitz\n")
    (chip / "temp1_input").write_text("45000\n")  # millidegrees Celsius
    (chip / "temp2_input").write_text("51000\n")
    return sysfs
