"""netdev's node_exporter options: --collector.netdev.enable-detailed-metrics, --collector.netdev.label-ifalias and
--collector.netdev.address-info (node_exporter HEAD's collector/netdev_common.go and netdev_linux.go).

The fixture tree's /proc/net/dev, crafted sysfs trees, crafted RTM_NEWADDR messages, and the live kernel's links.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import struct
from pathlib import Path

import pytest

from helpers.host import FIXTURE, collect, make, parsed, values
from spark_exporter.collectors._netlink import NetlinkError, addresses, parse_addr_messages
from spark_exporter.collectors.netdev import DETAILED, LEGACY, PROCFS_DETAILED, address_scope
from spark_exporter.exporter.daemon import load_config

DETAILED_FLAG = "--collector.netdev.enable-detailed-metrics"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A writable copy of the fixture tree, symlinks kept."""
    dst = tmp_path / "host"
    shutil.copytree(FIXTURE, dst, symlinks=True)
    return dst


class TestDetailedMetrics:
    def test_procfs_columns_under_detailed_names(self) -> None:
        """From /proc/net/dev: node_exporter's detailed keys for the 16 columns, same values as the legacy ones."""
        legacy, detailed = collect("netdev"), collect("netdev", DETAILED_FLAG)
        assert set(detailed) == {f"node_network_{k}" for k in (*PROCFS_DETAILED, "receive_nohandler")}
        for old, new in zip(LEGACY, PROCFS_DETAILED, strict=True):
            assert detailed[f"node_network_{new}"].samples == [
                s._replace(name=s.name.replace(old, new)) for s in legacy[f"node_network_{old}"].samples], new
        assert values(detailed["node_network_receive_errors"], "device")["enp1s0f0np0"] == 1

    def test_off_by_default(self) -> None:
        """Without the flag the legacy names are served (receive_errs, not receive_errors)."""
        fams = collect("netdev")
        assert "node_network_receive_errs" in fams and "node_network_receive_errors" not in fams

    def test_sysfs_counters_apart(self, tree: Path) -> None:
        """From sysfs statistics: each counter under its own name, not summed into /proc/net/dev's columns."""
        (tree / "proc/net/dev").unlink()
        stats = tree / "sys/class/net/enp1s0f0np0/statistics"
        written = {"rx_bytes": 1000, "rx_dropped": 3, "rx_missed_errors": 4, "rx_crc_errors": 5,
                   "rx_frame_errors": 6, "collisions": 7, "rx_otherhost_dropped": 9}
        for name, value in written.items():
            (stats / name).write_text(f"{value}\n")
        fams = collect("netdev", DETAILED_FLAG, root=tree)
        got = {name.removeprefix("node_network_"): values(f, "device")["enp1s0f0np0"] for name, f in fams.items()
               if "enp1s0f0np0" in values(f, "device")}
        assert got == {"receive_bytes": 1000, "receive_dropped": 3, "receive_missed_errors": 4,
                       "receive_crc_errors": 5, "receive_frame_errors": 6, "collisions": 7,
                       "receive_nohandler": int((stats / "rx_nohandler").read_text())}  # otherhost: not served

    def test_netlink_every_counter(self) -> None:
        """Over netlink (the live loopback): node_exporter's 24 detailed keys, none of the legacy ones."""
        fams = parsed(make("netdev", "--collector.netdev.netlink", DETAILED_FLAG,
                           "--collector.netdev.device-include=^lo$").collect())
        assert set(fams) == {f"node_network_{k}" for k in DETAILED.values()}
        assert all(values(f, "device").keys() == {"lo"} for f in fams.values())


class TestLabelIfalias:
    def test_ifalias_label_on_every_family(self, tree: Path) -> None:
        """Each family gets an ifalias label: the sysfs ifalias text, "" where a device has none."""
        (tree / "sys/class/net/enp1s0f0np0/ifalias").write_text("to spark-02 (QSFP 1)\n")
        fams = collect("netdev", "--collector.netdev.label-ifalias", root=tree)
        for fam in fams.values():
            for s in fam.samples:
                assert set(s.labels) == {"device", "ifalias"}
        by_device = {s.labels["device"]: s.labels["ifalias"] for s in fams["node_network_receive_bytes"].samples}
        assert by_device["enp1s0f0np0"] == "to spark-02 (QSFP 1)"
        assert by_device["docker0"] == ""  # not in the tree's sysfs

    def test_off_by_default(self) -> None:
        """Without the flag the only label is device."""
        fam = collect("netdev")["node_network_receive_bytes"]
        assert {tuple(s.labels) for s in fam.samples} == {("device",)}


def _addr_msg(family: int, prefix: int, index: int, attrs: list[tuple[int, bytes]]) -> bytes:
    body = struct.pack("=BBBBI", family, prefix, 0, 0, index)
    for kind, payload in attrs:
        raw = struct.pack("=HH", 4 + len(payload), kind) + payload
        body += raw + b"\0" * (-len(raw) % 4)
    return struct.pack("=IHHII", 16 + len(body), 20, 2, 1, 0) + body


DONE = struct.pack("=IHHIIi", 20, 3, 2, 1, 0, 0)


class TestAddressMessages:
    def test_local_wins_over_peer_address(self) -> None:
        """A point-to-point IPv4 address: IFA_LOCAL is the address (IFA_ADDRESS is the peer), as Go picks."""
        msg = _addr_msg(socket.AF_INET, 32, 5, [(1, bytes([10, 0, 0, 2])), (2, bytes([10, 0, 0, 1]))])
        got: list = []
        assert parse_addr_messages(msg + DONE, got)
        assert got == [(5, ipaddress.ip_address("10.0.0.1"), 32)]

    def test_ipv6_address_and_other_families(self) -> None:
        """IPv6 from IFA_ADDRESS; a family that is neither IPv4 nor IPv6 is skipped."""
        v6 = ipaddress.IPv6Address("fd00::2")
        msg = _addr_msg(socket.AF_INET6, 64, 3, [(1, v6.packed)]) + _addr_msg(17, 0, 3, [(1, b"\0" * 6)])
        got: list = []
        assert not parse_addr_messages(msg, got)
        assert got == [(3, v6, 64)]

    def test_attribute_past_its_message_is_an_error(self) -> None:
        """An attribute whose length runs past its message is an error, never a shifted address."""
        msg = bytearray(_addr_msg(socket.AF_INET, 24, 2, [(1, bytes([192, 0, 2, 1]))]))
        struct.pack_into("=H", msg, 24, 400)
        with pytest.raises(NetlinkError, match="malformed attribute"):
            parse_addr_messages(bytes(msg), [])


class TestAddressScope:
    @pytest.mark.parametrize(("address", "scope"), [
        ("127.0.0.1", "link-local"), ("::1", "link-local"),
        ("169.254.3.4", "link-local"), ("fe80::1", "link-local"),
        ("224.0.0.251", "link-local"), ("ff02::1", "link-local"), ("ff12::1", "link-local"),
        ("ff01::1", "interface-local"),
        ("10.1.2.3", "global"), ("192.168.1.1", "global"), ("fd00::2", "global"), ("8.8.8.8", "global"),
        ("2001:db8::1", "global"),
        ("0.0.0.0", ""), ("::", ""), ("255.255.255.255", ""), ("239.1.1.1", ""), ("ff05::2", ""),
    ])
    def test_go_rules(self, address: str, scope: str) -> None:
        """Go's net.IP predicates as node_exporter's scope() applies them (private ranges are global)."""
        assert address_scope(ipaddress.ip_address(address)) == scope


class TestAddressInfo:
    def test_live_addresses_of_the_included_devices(self) -> None:
        """The loopback's addresses, prefix lengths as netmask, link-local scope; other devices filtered out."""
        fams = parsed(make("netdev", "--collector.netdev.address-info", "--collector.netdev.device-include=^lo$")
                      .collect())
        samples = fams["node_network_address_info"].samples
        rows = {(s.labels["device"], s.labels["address"], s.labels["netmask"], s.labels["scope"]) for s in samples}
        want = {(d, str(a), str(p), "link-local") for d, a, p in addresses() if d == "lo"}
        assert ("lo", "127.0.0.1", "8", "link-local") in rows
        assert rows == want and all(s.value == 1 for s in samples)

    def test_every_device_by_default(self) -> None:
        """Without a filter every live device with an address is listed, whatever --path.procfs says."""
        fams = collect("netdev", "--collector.netdev.address-info")
        devices = {s.labels["device"] for s in fams["node_network_address_info"].samples}
        assert devices == {d for d, _, _ in addresses()}

    def test_off_by_default(self) -> None:
        """Without the flag there is no node_network_address_info."""
        assert "node_network_address_info" not in collect("netdev")


class TestNoLongerIgnored:
    @pytest.mark.parametrize("flag", ["collector.netdev.enable-detailed-metrics", "collector.netdev.label-ifalias",
                                      "collector.netdev.address-info"])
    def test_flag_sets_its_setting_without_a_warning(self, flag: str) -> None:
        """Off by default; --FLAG turns it on and no "flag ignored" warning is logged."""
        assert load_config([])[flag] is False
        cfg = load_config([f"--{flag}"])
        assert cfg[flag] is True
        assert not [w for w in cfg.warnings if "ignored" in w]
