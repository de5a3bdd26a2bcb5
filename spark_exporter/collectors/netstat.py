"""Protocol counters from <procfs>/net/{netstat,snmp,snmp6} (node_exporter's netstat collector).

``node_netstat_<Proto>_<Field>`` (untyped, as node_exporter serves them) for the fields that
``--collector.netstat.fields`` selects; the default is current node_exporter's (TCP, UDP, IP, ICMP
errors and totals, listen drops, SYN cookies, retransmits), which Node Exporter Full's network panels
query. netstat and snmp hold pairs of lines (``TcpExt: names`` then ``TcpExt: values``); snmp6 holds one
``Ip6InReceives 123`` per line, split after the protocol's "6". A missing file serves nothing from it.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import Metric, UnknownMetricFamily

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import read_text
from .base import Collector, Paths

DEFAULT_FIELDS = (
    r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
    r"TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|"
    r"Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
    r"Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)


def parse_pairs(text: str) -> dict[str, dict[str, str]]:
    """``{protocol: {field: value}}`` from a netstat/snmp file (a names line, then a values line)."""
    out: dict[str, dict[str, str]] = {}
    lines = text.splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        n, v = names.split(), values.split()
        if not n or len(n) != len(v) or n[0] != v[0]:
            raise ValueError(f"mismatched netstat lines {names[:40]!r} / {values[:40]!r}")
        out.setdefault(n[0].rstrip(":"), {}).update(zip(n[1:], v[1:], strict=True))
    return out


def parse_snmp6(text: str) -> dict[str, dict[str, str]]:
    """``{protocol: {field: value}}`` from snmp6 (``Icmp6InMsgs 12`` -> Icmp6 / InMsgs)."""
    out: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        six = parts[0].find("6")
        if six < 0:
            continue
        out.setdefault(parts[0][: six + 1], {})[parts[0][six + 1 :]] = parts[1]
    return out


@register
class NetstatCollector(Collector):
    """Serves node_netstat_<Proto>_<Field> (untyped) from <procfs>/net/{netstat,snmp,snmp6} (see module docstring)."""

    name = "netstat"
    options = (regex_option("collector.netstat.fields", DEFAULT_FIELDS,
                            "Regexp of fields to return for netstat collector."),)

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._fields = compile_option(config, "collector.netstat.fields")

    def _read(self, fname: str) -> str | None:
        try:
            return read_text(self.paths.proc("net", fname))
        except FileNotFoundError:
            return None

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        stats: dict[str, dict[str, str]] = {}
        for fname in ("netstat", "snmp"):
            text = self._read(fname)
            if text is not None:
                for proto, fields in parse_pairs(text).items():
                    stats.setdefault(proto, {}).update(fields)
        text = self._read("snmp6")
        if text is not None:
            for proto, fields in parse_snmp6(text).items():
                stats.setdefault(proto, {}).update(fields)
        out = []
        for proto, fields in stats.items():
            for field, raw in fields.items():
                key = f"{proto}_{field}"
                if self._fields is not None and not self._fields.match(key):
                    continue
                try:
                    value = float(raw)
                except ValueError:
                    continue
                out.append(UnknownMetricFamily(f"node_netstat_{key}", f"Statistic {proto}{field}.", value=value))
        return out
