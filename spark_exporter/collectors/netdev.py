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

The file is read directly rather than through ``psutil.net_io_counters``: psutil drops the
fifo/frame/compressed/multicast columns and ignores ``--path.procfs``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from ..settings import ExporterConfig, bool_option, compile_option, regex_option
from . import register
from ._files import list_dir, read_int, read_text
from ._netlink import link_stats
from .base import Collector, Paths

# /proc/net/dev columns, in file order (see the kernel's dev_seq_printf_stats).
RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
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
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._include = compile_option(config, "collector.netdev.device-include")
        self._exclude = compile_option(config, "collector.netdev.device-exclude")
        # Both set is refused with the settings (settings.options.EXCLUSIVE_EXPORTER_KEYS).
        self._netlink = bool(config["collector.netdev.netlink"])

    @staticmethod
    def _netlink_devices() -> tuple[dict[str, list[int]], dict[str, int]]:
        """The /proc/net/dev columns and rx_nohandler of each link, from the kernel over netlink."""
        devices: dict[str, list[int]] = {}
        nohandler: dict[str, int] = {}
        for device, stats in link_stats().items():
            devices[device] = [sum(stats.get(n, 0) for n in names) for names in SYSFS_COLUMNS]
            if "rx_nohandler" in stats:
                nohandler[device] = stats["rx_nohandler"]
        return devices, nohandler

    def _nohandler(self, device: str) -> int | None:
        return read_int(self.paths.sys("class", "net", device, "statistics", "rx_nohandler"))

    def _sysfs_devices(self) -> dict[str, list[int]]:
        """The /proc/net/dev columns rebuilt from <sysfs>/class/net/DEV/statistics, for roots without
        /proc/net/dev (node_exporter reads the same kernel counters over netlink). A device without
        statistics files is left out; a column whose files a driver lacks counts them as 0, as the kernel's
        own /proc/net/dev does for counters a driver never sets."""
        base = self.paths.sys("class", "net")
        out: dict[str, list[int]] = {}
        for device in list_dir(base):
            stats = os.path.join(base, device, "statistics")
            present = set(list_dir(stats))
            if "rx_bytes" not in present:
                continue  # no counters to rebuild the row from: left out, not zeros

            def col(*names: str, stats: str = stats, present: set[str] = present) -> int:
                return sum(read_int(os.path.join(stats, n)) or 0 for n in names if n in present)

            out[device] = [col(*names) for names in SYSFS_COLUMNS]
        return out

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        nohandler: dict[str, int] | None = None
        if self._netlink:
            devices, nohandler = self._netlink_devices()
        else:
            try:
                devices = parse_net_dev(read_text(self.paths.proc("net", "dev")))
            except FileNotFoundError:
                devices = self._sysfs_devices()
        fams: dict[str, CounterMetricFamily] = {}

        def add(key: str, device: str, value: float) -> None:
            fam = fams.get(key)
            if fam is None:
                fam = fams[key] = CounterMetricFamily(
                    f"node_network_{key}", f"Network device statistic {key}.", labels=["device"]
                )
            fam.add_metric([device], value)

        for device, cols in devices.items():
            if self._exclude is not None and self._exclude.search(device):
                continue
            if self._include is not None and not self._include.search(device):
                continue
            for i, col in enumerate(RECEIVE):
                add(f"receive_{col}", device, float(cols[i]))
            for i, col in enumerate(TRANSMIT, start=len(RECEIVE)):
                add(f"transmit_{col}", device, float(cols[i]))
            dropped = nohandler.get(device) if nohandler is not None else self._nohandler(device)
            if dropped is not None:
                add("receive_nohandler", device, float(dropped))
        yield from fams.values()
