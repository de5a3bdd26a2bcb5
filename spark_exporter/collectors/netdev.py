"""Per-interface traffic counters from /proc/net/dev (node_exporter's netdev collector).

Every column of /proc/net/dev becomes ``node_network_{receive,transmit}_<column>_total{device}``
(bytes, packets, errs, drop, fifo, frame/colls, compressed, multicast/carrier), plus
``node_network_receive_nohandler_total`` from ``<sysfs>/class/net/DEV/statistics/rx_nohandler``,
which node_exporter 1.5 gets over netlink and /proc/net/dev lacks. All interfaces are included
(``lo``, bridges, ConnectX-7 ports such as ``enp1s0f0np0``/``enP2p1s0f1np1``); nothing assumes a name.

The file is read directly rather than through ``psutil.net_io_counters``: psutil drops the
fifo/frame/compressed/multicast columns and ignores ``--path.procfs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from ..settings import ConfigError, ExporterConfig, Option
from . import register
from .base import Collector, Paths, read_file

# /proc/net/dev columns, in file order (see the kernel's dev_seq_printf_stats).
RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")


def _regex(value: Any) -> str:
    """Option parser: a regular expression (Python ``re`` syntax, which covers node_exporter's defaults)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression string, got {type(value).__name__}")
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"invalid regular expression {value!r}: {e}") from None
    return value


def regex_option(key: str, default: str, help: str) -> Option:
    """A setting holding a regular expression, validated when the configuration is loaded."""
    return Option(key, _regex, default, help, metavar="REGEX")


def compile_option(config: ExporterConfig, key: str) -> re.Pattern[str] | None:
    """Compile a regex setting; an empty one means "no filter". Errors name the setting."""
    text = config[key]
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error as e:  # only reachable when a config object was built by hand
        raise ConfigError(f"{key}: invalid regular expression {text!r}: {e}") from None


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
    name = "netdev"
    options = (
        regex_option(
            "netdev.device-exclude",
            "",
            "Regexp of net devices to exclude from the netdev collector (empty: none, as upstream "
            "node_exporter; Debian's package defaults to ^lo$).",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._exclude = compile_option(config, "netdev.device-exclude")

    def _nohandler(self, device: str) -> int | None:
        try:
            return int(read_file(self.paths.sys("class", "net", device, "statistics", "rx_nohandler")))
        except (OSError, ValueError):
            return None

    def collect(self) -> Iterable[Metric]:
        devices = parse_net_dev(read_file(self.paths.proc("net", "dev")))
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
            for i, col in enumerate(RECEIVE):
                add(f"receive_{col}", device, float(cols[i]))
            for i, col in enumerate(TRANSMIT, start=len(RECEIVE)):
                add(f"transmit_{col}", device, float(cols[i]))
            nohandler = self._nohandler(device)
            if nohandler is not None:
                add("receive_nohandler", device, float(nohandler))
        yield from fams.values()
