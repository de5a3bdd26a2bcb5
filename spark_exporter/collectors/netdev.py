"""Per-interface traffic counters (node_exporter's netdev collector).

Every column of /proc/net/dev becomes ``node_network_{receive,transmit}_<column>_total{device}``
(bytes, packets, errs, drop, fifo, frame/colls, compressed, multicast/carrier), plus
``node_network_receive_nohandler_total``. All interfaces are included (``lo``, bridges, ConnectX-7
ports such as ``enp1s0f0np0``/``enP2p1s0f1np1``); nothing assumes a name.

Source, as node_exporter's: by default (``--collector.netdev.netlink``) the kernel's per-link counters
over rtnetlink (``_netlink.py``), for the exporter's own network namespace whatever ``--path.procfs``
says; the columns are summed from them as the kernel sums /proc/net/dev's. With
``--no-collector.netdev.netlink``, ``<procfs>/net/dev`` (and ``rx_nohandler`` from
``<sysfs>/class/net/DEV/statistics``), or where that file is missing, those statistics files alone.

Options, as node_exporter's: ``--collector.netdev.enable-detailed-metrics`` serves each kernel counter as its own
family under node_exporter's detailed names (DETAILED, PROCFS_DETAILED) instead of /proc/net/dev's summed columns;
``--collector.netdev.label-ifalias`` adds ``ifalias`` (``<sysfs>/class/net/DEV/ifalias``, "" where missing) to
every family; ``--collector.netdev.address-info`` adds ``node_network_address_info{device,address,netmask,scope}``
from an ``RTM_GETADDR`` dump (netmask: prefix length; scope: :func:`address_scope`), filtered like the counters.

The file is read directly rather than through ``psutil.net_io_counters``: psutil drops the
fifo/frame/compressed/multicast columns and ignores ``--path.procfs``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, bool_option, compile_option, regex_option
from . import register
from ._files import list_dir, read_attr, read_int, read_text
from ._netlink import STATS_FIELDS, addresses, link_stats
from .base import Collector, Paths

# /proc/net/dev columns, in file order (see the kernel's dev_seq_printf_stats).
RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
# node_exporter's legacy family keys: /proc/net/dev's columns, in file order.
LEGACY = (*(f"receive_{c}" for c in RECEIVE), *(f"transmit_{c}" for c in TRANSMIT))
# With --collector.netdev.enable-detailed-metrics, node_exporter's keys for /proc/net/dev's columns
# (procNetDevStats in netdev_linux.go) ...
PROCFS_DETAILED = (
    "receive_bytes", "receive_packets", "receive_errors", "receive_dropped", "receive_fifo", "receive_frame",
    "receive_compressed", "receive_multicast", "transmit_bytes", "transmit_packets", "transmit_errors",
    "transmit_dropped", "transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed",
)
# ... and for netlink's counters (parseNetlinkStats); rx_otherhost_dropped is not served there either.
DETAILED = {
    "rx_packets": "receive_packets", "tx_packets": "transmit_packets", "rx_bytes": "receive_bytes",
    "tx_bytes": "transmit_bytes", "rx_errors": "receive_errors", "tx_errors": "transmit_errors",
    "rx_dropped": "receive_dropped", "tx_dropped": "transmit_dropped", "multicast": "multicast",
    "collisions": "collisions", "rx_length_errors": "receive_length_errors",
    "rx_over_errors": "receive_over_errors", "rx_crc_errors": "receive_crc_errors",
    "rx_frame_errors": "receive_frame_errors", "rx_fifo_errors": "receive_fifo_errors",
    "rx_missed_errors": "receive_missed_errors", "tx_aborted_errors": "transmit_aborted_errors",
    "tx_carrier_errors": "transmit_carrier_errors", "tx_fifo_errors": "transmit_fifo_errors",
    "tx_heartbeat_errors": "transmit_heartbeat_errors", "tx_window_errors": "transmit_window_errors",
    "rx_compressed": "receive_compressed", "tx_compressed": "transmit_compressed",
    "rx_nohandler": "receive_nohandler",
}
# The counters (netlink's struct rtnl_link_stats64 fields, also the file names under
# /sys/class/net/DEV/statistics) summed into each column, as the kernel's dev_seq_printf_stats sums them.
SYSFS_COLUMNS = (
    ("rx_bytes",),
    ("rx_packets",),
    ("rx_errors",),
    ("rx_dropped", "rx_missed_errors"),
    ("rx_fifo_errors",),
    ("rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors"),
    ("rx_compressed",),
    ("multicast",),
    ("tx_bytes",),
    ("tx_packets",),
    ("tx_errors",),
    ("tx_dropped",),
    ("tx_fifo_errors",),
    ("collisions",),
    ("tx_carrier_errors", "tx_aborted_errors", "tx_window_errors", "tx_heartbeat_errors"),
    ("tx_compressed",),
)


def parse_net_dev(text: str) -> dict[str, list[int]]:
    """Map device name to its 16 counters; the two header lines are skipped."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        if not sep:
            raise ValueError(f"invalid line in net/dev: {line!r}")
        cols = [int(c) for c in rest.split()]
        if len(cols) < len(RECEIVE) + len(TRANSMIT):
            raise ValueError(f"short line in net/dev: {line!r}")
        out[name.strip()] = cols
    return out


def address_scope(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """node_exporter's ``scope`` label (netdev_common.go, on Go's net.IP predicates): ``link-local`` for
    loopback, link-local unicast and link-local multicast, ``interface-local`` for interface-local multicast,
    ``global`` for any other unicast address (private ranges included, as Go's IsGlobalUnicast), else ``""``."""
    packed = ip.packed
    if isinstance(ip, ipaddress.IPv4Address):
        link_multicast = packed[:3] == b"\xe0\x00\x00"  # 224.0.0.0/24
        iface_multicast = False
        broadcast = ip == ipaddress.IPv4Address("255.255.255.255")
    else:
        link_multicast = packed[0] == 0xFF and packed[1] & 0x0F == 0x02
        iface_multicast = packed[0] == 0xFF and packed[1] & 0x0F == 0x01
        broadcast = False
    if ip.is_loopback or ip.is_link_local or link_multicast:
        return "link-local"
    if iface_multicast:
        return "interface-local"
    if not (broadcast or ip.is_unspecified or ip.is_multicast):
        return "global"
    return ""


@register
class NetdevCollector(Collector):
    """Serves node_network_{receive,transmit}_*_total{device} from <procfs>/net/dev (see module docstring)."""

    name = "netdev"
    options = (
        regex_option(
            "collector.netdev.device-include", "",
            "Regexp of net devices to include (mutually exclusive to device-exclude; empty: every device).",
        ),
        regex_option(
            "collector.netdev.device-exclude",
            "",
            "Regexp of net devices to exclude from the netdev collector (empty: none, as upstream "
            "node_exporter; Debian's package defaults to ^lo$).",
        ),
        bool_option(
            "collector.netdev.netlink", True,
            "Use netlink to gather stats instead of /proc/net/dev (the exporter's own network namespace; "
            "--path.procfs does not apply).",
        ),
        bool_option(
            "collector.netdev.enable-detailed-metrics", False,
            "Use (incompatible) metric names that provide more detailed stats on Linux: each kernel counter "
            "apart (node_network_receive_errors_total, ..._receive_crc_errors_total, ...).",
        ),
        bool_option(
            "collector.netdev.label-ifalias", False,
            "Add an ifalias label (<sysfs>/class/net/DEV/ifalias) to every netdev family.",
        ),
        bool_option(
            "collector.netdev.address-info", False,
            "Collect address-info for every device: node_network_address_info{device,address,netmask,scope}.",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._include = compile_option(config, "collector.netdev.device-include")
        self._exclude = compile_option(config, "collector.netdev.device-exclude")
        # Both set is refused with the settings (settings.options.EXCLUSIVE_EXPORTER_KEYS).
        self._netlink = bool(config["collector.netdev.netlink"])
        self._detailed = bool(config["collector.netdev.enable-detailed-metrics"])
        self._ifalias = bool(config["collector.netdev.label-ifalias"])
        self._address_info = bool(config["collector.netdev.address-info"])

    def _read(self) -> tuple[dict[str, dict[str, int]], dict[str, list[int]]]:
        """This scrape's counters: (device -> counters by STATS_FIELDS name, from netlink or the sysfs
        statistics files; device -> /proc/net/dev's 16 columns). One of the two is empty."""
        if self._netlink:
            return link_stats(), {}
        try:
            return {}, parse_net_dev(read_text(self.paths.proc("net", "dev")))
        except FileNotFoundError:
            return self._sysfs_devices(), {}

    def _nohandler(self, device: str) -> int | None:
        return read_int(self.paths.sys("class", "net", device, "statistics", "rx_nohandler"))

    def _sysfs_devices(self) -> dict[str, dict[str, int]]:
        """The counters of <sysfs>/class/net/DEV/statistics, for roots without /proc/net/dev (node_exporter
        reads the same kernel counters over netlink). A device without statistics files is left out; a file a
        driver lacks is left out of the device's row (a legacy column sums it as 0, as the kernel's own
        /proc/net/dev does for counters a driver never sets)."""
        base = self.paths.sys("class", "net")
        out: dict[str, dict[str, int]] = {}
        for device in list_dir(base):
            stats = os.path.join(base, device, "statistics")
            present = set(list_dir(stats))
            if "rx_bytes" not in present:
                continue  # no counters to rebuild the row from: left out, not zeros
            row = {n: read_int(os.path.join(stats, n)) for n in STATS_FIELDS if n in present}
            out[device] = {n: v for n, v in row.items() if v is not None}
        return out

    def _wanted(self, device: str) -> bool:
        if self._exclude is not None and self._exclude.search(device):
            return False
        return self._include is None or self._include.search(device) is not None

    def _counters(self, raw: dict[str, int] | None, cols: list[int] | None, device: str) -> Iterable[tuple[str, int]]:
        """(family key, value) of one device: node_exporter's legacy names (/proc/net/dev's columns), or with
        ``--collector.netdev.enable-detailed-metrics`` its detailed ones (each kernel counter apart)."""
        if raw is not None:
            if self._detailed:
                yield from ((DETAILED[n], raw[n]) for n in STATS_FIELDS if n in raw and n in DETAILED)
                return
            cols = [sum(raw.get(n, 0) for n in names) for names in SYSFS_COLUMNS]
            nohandler = raw.get("rx_nohandler")
        else:
            assert cols is not None
            nohandler = self._nohandler(device)
        names = PROCFS_DETAILED if self._detailed else LEGACY
        yield from zip(names, cols, strict=False)
        if nohandler is not None:
            yield "receive_nohandler", nohandler

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        raw, columns = self._read()
        labels = ["device", "ifalias"] if self._ifalias else ["device"]
        fams: dict[str, CounterMetricFamily] = {}
        for device in [*raw, *columns]:
            if not self._wanted(device):
                continue
            values = [device]
            if self._ifalias:
                values.append(read_attr(self.paths.sys("class", "net", device, "ifalias")) or "")
            for key, value in self._counters(raw.get(device), columns.get(device), device):
                fam = fams.get(key)
                if fam is None:
                    fam = fams[key] = CounterMetricFamily(
                        f"node_network_{key}", f"Network device statistic {key}.", labels=labels
                    )
                fam.add_metric(values, float(value))
        yield from fams.values()
        if self._address_info:
            yield self._addresses()

    def _addresses(self) -> GaugeMetricFamily:
        """node_network_address_info{device,address,netmask,scope} = 1 per address of each device the
        include/exclude keep, from the live kernel over netlink (node_exporter reads Go's net.Interfaces,
        whatever --path.procfs says); netmask is the prefix length."""
        fam = GaugeMetricFamily("node_network_address_info", "node network address by device",
                                labels=["device", "address", "netmask", "scope"])
        seen: set[tuple[str, str, str]] = set()
        for device, addr, prefix in addresses():
            if not self._wanted(device):
                continue
            if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
                addr = addr.ipv4_mapped  # Go prints and classifies a v4-mapped address as IPv4
            key = (device, str(addr), str(prefix))
            if key not in seen:
                seen.add(key)
                fam.add_metric([*key, address_scope(addr)], 1.0)
        return fam
