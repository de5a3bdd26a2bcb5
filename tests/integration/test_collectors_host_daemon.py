"""The daemon serving the host collectors on the fixture tree (a real process)."""

from __future__ import annotations

from helpers.host import FIXTURE, values
from helpers.procs import exporter, http_get, parse_metrics

CX7_PORTS = ("enp1s0f0np0", "enp1s0f1np1", "enP2p1s0f0np0", "enP2p1s0f1np1")


class TestFailureIsolation:
    def test_daemon_serves_fixture_tree(self) -> None:
        """The daemon started with --path.* flags serves the fixture's host series over HTTP."""
        with exporter(
            "--no-collector.gpu",
            f"--path.procfs={FIXTURE}/proc",
            f"--path.sysfs={FIXTURE}/sys",
            f"--path.rootfs={FIXTURE}/rootfs",
            "--no-collector.netdev.netlink",  # the tree's /proc/net/dev, not the live kernel's links
        ) as p:
            fams = parse_metrics(http_get(p.url + "/metrics")[1].decode())
        assert set(CX7_PORTS) <= set(values(fams["node_network_receive_bytes"], "device"))
        assert values(fams["node_network_up"], "device")["enp1s0f0np0"] == 1
        success = values(fams["spark_exporter_collector_success"], "collector")
        assert all(
            success[c] == 1
            for c in (
                "cpu",
                "meminfo",
                "netdev",
                "netclass",
                "diskstats",
                "filesystem",
                "hwmon",
                "stat",
                "time",
                "pressure",
                "uname",
            )
        )
