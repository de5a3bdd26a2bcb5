"""Interface attributes from <sysfs>/class/net/DEV (node_exporter's netclass collector).

``node_network_up{device}`` is 1 when operstate is "up" (so ``lo``, whose operstate is "unknown", is 0,
as in node_exporter). ``node_network_info`` carries address, broadcast, duplex, ifalias, operstate and
(as current node_exporter) ``adminstate``, "up"/"down" from the IFF_UP bit of ``flags``. A link that
reports a speed of -1 (unknown, e.g. a virtual or down link) gets no ``node_network_speed_bytes``
unless ``--no-netclass.ignore-invalid-speed`` asks for node_exporter 1.x's pass-through (-125000).
Numeric attributes become gauges (``mtu_bytes``, ``speed_bytes`` = Mbit/s * 125000, ``flags``, ...)
and the carrier change counts become counters. An attribute the driver refuses to report (reading
``speed`` of a down link gives EINVAL) is left out, never written as 0. Every entry of the directory is
included, virtual interfaces too, exactly as node_exporter 1.5 does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, bool_option, compile_option, regex_option
from . import _files, register
from .base import Collector, Paths

# sysfs attribute -> (metric suffix, HELP). Values parse like node_exporter's (0x-prefixed hex allowed).
GAUGES: dict[str, tuple[str, str]] = {
    "addr_assign_type": ("address_assign_type", "Network device property: address_assign_type"),
    "carrier": ("carrier", "Network device property: carrier"),
    "dev_id": ("device_id", "Network device property: device_id"),
    "dormant": ("dormant", "Network device property: dormant"),
    "flags": ("flags", "Network device property: flags"),
    "ifindex": ("iface_id", "Network device property: iface_id"),
    "iflink": ("iface_link", "Network device property: iface_link"),
    "link_mode": ("iface_link_mode", "Network device property: iface_link_mode"),
    "mtu": ("mtu_bytes", "Network device property: mtu_bytes"),
    "name_assign_type": ("name_assign_type", "Network device property: name_assign_type"),
    "netdev_group": ("net_dev_group", "Network device property: net_dev_group"),
    "tx_queue_len": ("transmit_queue_length", "Network device property: transmit_queue_length"),
    "type": ("protocol_type", "Network device property: protocol_type"),
}
COUNTERS: dict[str, tuple[str, str]] = {
    "carrier_changes": ("carrier_changes", "Network device property: carrier_changes_total"),
    "carrier_up_count": ("carrier_up_changes", "Network device property: carrier_up_changes_total"),
    "carrier_down_count": ("carrier_down_changes", "Network device property: carrier_down_changes_total"),
}
_TEXT = ("address", "broadcast", "duplex", "ifalias", "operstate")
_ATTRS = (*GAUGES, *COUNTERS, *_TEXT, "speed")
_IFF_UP = 0x1  # linux/if.h
# Fixed for the life of an interface (one ifindex): read once per interface, not per collection.
_FIXED = frozenset({"addr_assign_type", "dev_id", "iflink", "name_assign_type", "type"})
_MBIT_TO_BYTES = 1000 * 1000 // 8  # speed is in Mbit/s; node_exporter exports bytes/s


def parse_int(text: str) -> int:
    """Parse like Go's ParseInt(s, 0, 64): decimal, or 0x/0o/0b-prefixed."""
    try:
        return int(text, 0)
    except ValueError:
        return int(text, 10)  # "010": Go reads octal, sysfs never writes it; decimal is the sane reading


def admin_state(flags: str | None) -> str:
    """"up" or "down" from the IFF_UP bit of the ``flags`` attribute (what ``ip link set DEV up`` sets)."""
    if not flags:
        return ""
    try:
        return "up" if parse_int(flags) & _IFF_UP else "down"
    except ValueError:
        return ""


def read_attr(path: str) -> str | None:
    """One sysfs attribute, stripped; None when the driver cannot report it (EINVAL, ENOENT, EPERM...)."""
    return _files.read_attr(path)


@register
class NetclassCollector(Collector):
    """Serves node_network_* attributes from <sysfs>/class/net/DEV (see module docstring)."""

    name = "netclass"
    options = (
        regex_option(
            "collector.netclass.ignored-devices", "^$", "Regexp of net devices to ignore in the netclass collector."
        ),
        bool_option(
            "collector.netclass.ignore-invalid-speed",
            True,
            "Leave out node_network_speed_bytes where the link reports an invalid speed (-1); node_exporter "
            "1.x passes it through unless told, and makes this its default in 2.x.",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._ignored = compile_option(config, "collector.netclass.ignored-devices")
        self._ignore_invalid_speed = bool(config["collector.netclass.ignore-invalid-speed"])
        # (device, ifindex) -> (attributes present in its directory, values of the _FIXED ones)
        self._fixed: dict[tuple[str, str | None], tuple[frozenset[str], dict[str, str | None]]] = {}

    def devices(self) -> list[str]:
        """Sorted interface names under <sysfs>/class/net, less plain files and ignored devices.

        Raises OSError (FileNotFoundError included) when the directory cannot be listed.
        """
        base = self.paths.sys("class", "net")
        out = []
        for dirent in sorted(os.scandir(base), key=lambda e: e.name):  # d_type: no stat per entry
            if dirent.is_file(follow_symlinks=False):
                continue  # bonding_masters is a plain file, not an interface
            entry = dirent.name
            if self._ignored is not None and self._ignored.search(entry):
                continue
            out.append(entry)
        return out

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        up = GaugeMetricFamily(
            "node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", labels=["device"]
        )
        info = GaugeMetricFamily(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            labels=["device", "address", "broadcast", "duplex", "operstate", "adminstate", "ifalias"],
        )
        gauges = {
            attr: GaugeMetricFamily(f"node_network_{suffix}", doc, labels=["device"])
            for attr, (suffix, doc) in GAUGES.items()
        }
        counters = {
            attr: CounterMetricFamily(f"node_network_{suffix}", doc, labels=["device"])
            for attr, (suffix, doc) in COUNTERS.items()
        }
        speed = GaugeMetricFamily(
            "node_network_speed_bytes", "Network device property: speed_bytes", labels=["device"]
        )
        for dev in self.devices():
            d = self.paths.sys("class", "net", dev) + "/"
            ifindex = read_attr(d + "ifindex")
            fixed = self._fixed.get((dev, ifindex))
            if fixed is None:
                try:
                    present = frozenset(os.listdir(d))  # skip absent attributes without a failed open
                except OSError:
                    continue  # the interface went away between listing and reading
                fixed = (present, {k: read_attr(d + k) if k in present else None for k in _FIXED})
                self._fixed[(dev, ifindex)] = fixed
            present, attr = fixed[0], dict(fixed[1])
            attr["ifindex"] = ifindex
            for k in _ATTRS:
                if k not in attr:
                    attr[k] = read_attr(d + k) if k in present else None
            text = {k: attr[k] or "" for k in _TEXT}
            up.add_metric([dev], 1.0 if text["operstate"] == "up" else 0.0)
            info.add_metric(
                [
                    dev,
                    text["address"],
                    text["broadcast"],
                    text["duplex"],
                    text["operstate"],
                    admin_state(attr["flags"]),
                    text["ifalias"],
                ],
                1.0,
            )
            for name, gauge in gauges.items():
                self._add(gauge, dev, attr[name], 1)
            for name, counter in counters.items():
                self._add(counter, dev, attr[name], 1)
            if not (self._ignore_invalid_speed and attr["speed"] and attr["speed"].startswith("-")):
                self._add(speed, dev, attr["speed"], _MBIT_TO_BYTES)

        if len(self._fixed) > 4 * max(len(up.samples), 16):  # interfaces come and go (veth): bound it
            self._fixed.clear()
        yield up
        yield info
        for fam in [*gauges.values(), *counters.values(), speed]:
            if fam.samples:
                yield fam

    def _add(
        self, fam: GaugeMetricFamily | CounterMetricFamily, dev: str, raw: str | None, scale: int
    ) -> None:
        if not raw:
            return
        try:
            value = parse_int(raw)
        except ValueError:
            self.log.debug("netclass_unparsable", device=dev, family=fam.name, value=raw)
            return
        fam.add_metric([dev], float(value * scale))
