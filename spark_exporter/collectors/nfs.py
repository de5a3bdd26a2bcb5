"""NFS client statistics from <procfs>/net/rpc/nfs (node_exporter's nfs collector).

``node_nfs_packets_total{protocol}`` (udp, tcp), ``node_nfs_connections_total``, ``node_nfs_rpcs_total``,
``node_nfs_rpc_retransmissions_total``, ``node_nfs_rpc_authentication_refreshes_total`` and
``node_nfs_requests_total{proto,method}`` for every NFSv2, v3 and v4 procedure, named and parsed as
prometheus/procfs does (a version whose line is missing counts 0 for each procedure, and a short v4 line
is padded with zeros, as there). A host that is no NFS client has no file: nothing is served. A line
that does not parse fails the collector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

# Procedure names in the order of the procN lines (prometheus/procfs' V2Stats, V3Stats, ClientV4Stats).
V2 = ("Null GetAttr SetAttr Root Lookup ReadLink Read WrCache Write Create Remove Rename Link SymLink MkDir RmDir "
      "ReadDir FsStat").split()
V3 = ("Null GetAttr SetAttr Lookup Access ReadLink Read Write Create MkDir SymLink MkNod Remove RmDir Rename Link "
      "ReadDir ReadDirPlus FsStat FsInfo PathConf Commit").split()
CLIENT_V4 = (
    "Null Read Write Commit Open OpenConfirm OpenNoattr OpenDowngrade Close Setattr FsInfo Renew SetClientID "
    "SetClientIDConfirm Lock Lockt Locku Access Getattr Lookup LookupRoot Remove Rename Link Symlink Create Pathconf "
    "StatFs ReadLink ReadDir ServerCaps DelegReturn GetACL SetACL FsLocations ReleaseLockowner Secinfo FsidPresent "
    "ExchangeID CreateSession DestroySession Sequence GetLeaseTime ReclaimComplete GetDeviceInfo LayoutGet "
    "LayoutCommit LayoutReturn SecinfoNoName TestStateID FreeStateID GetDeviceList BindConnToSession "
    "DestroyClientID Seek Allocate DeAllocate LayoutStats Clone"
).split()


def parse_lines(text: str) -> dict[str, list[int]]:
    """``name -> values`` for each ``NAME v1 v2 ...`` line of an rpc statistics file; ValueError if malformed."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            raise ValueError(f"invalid NFS metric line {line!r}")
        out[parts[0]] = [int(p) for p in parts[1:]]
    return out


def fixed(values: list[int] | None, size: int, what: str) -> list[int]:
    """A line that must have exactly ``size`` values (zeros when the line is missing)."""
    if values is None:
        return [0] * size
    if len(values) != size:
        raise ValueError(f"invalid {what} line {values}")
    return values


def procedures(values: list[int] | None, names: Sequence[str], what: str, pad: bool = False) -> list[int]:
    """A ``procN COUNT v1 ... vCOUNT`` line as one value per name (zeros when the line is missing).

    COUNT must match the values and be at least ``len(names)``; with ``pad`` (v4) a shorter line is
    padded with zeros instead, as prometheus/procfs does.
    """
    if values is None:
        return [0] * len(names)
    count = values[0]
    if len(values) - 1 != count or (count < len(names) and not pad):
        raise ValueError(f"invalid {what} line {values}")
    body = values[1:] + [0] * max(0, len(names) - count)
    return body[: len(names)]


def requests_family(help_text: str, name: str = "node_nfs_requests_total") -> CounterMetricFamily:
    """The ``{proto,method}`` requests family."""
    return CounterMetricFamily(name, help_text, labels=["proto", "method"])


@register
class NfsCollector(Collector):
    """Serves node_nfs_* from <procfs>/net/rpc/nfs (see the module docstring)."""

    name = "nfs"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        try:
            lines = parse_lines(read_text(self.paths.proc("net", "rpc", "nfs")))
        except FileNotFoundError:
            return []
        unknown = set(lines) - {"net", "rpc", "proc2", "proc3", "proc4"}
        if unknown:
            raise ValueError(f"unknown NFS metric line {sorted(unknown)[0]!r}")
        _, udp, tcp, connect = fixed(lines.get("net"), 4, "network")
        rpcs, retrans, refreshes = fixed(lines.get("rpc"), 3, "client RPC")
        packets = CounterMetricFamily("node_nfs_packets_total",
                                      "Total NFSd network packets (sent+received) by protocol type.",
                                      labels=["protocol"])
        packets.add_metric(["udp"], float(udp))
        packets.add_metric(["tcp"], float(tcp))
        requests = requests_family("Number of NFS procedures invoked.")
        for proto, names, pad in (("2", V2, False), ("3", V3, False), ("4", CLIENT_V4, True)):
            for method, value in zip(names, procedures(lines.get(f"proc{proto}"), names, f"proc{proto}", pad),
                                     strict=True):
                requests.add_metric([proto, method], float(value))
        return [
            packets,
            CounterMetricFamily("node_nfs_connections_total", "Total number of NFSd TCP connections.",
                                value=float(connect)),
            CounterMetricFamily("node_nfs_rpcs_total", "Total number of RPCs performed.", value=float(rpcs)),
            CounterMetricFamily("node_nfs_rpc_retransmissions_total", "Number of RPC transmissions performed.",
                                value=float(retrans)),
            CounterMetricFamily("node_nfs_rpc_authentication_refreshes_total",
                                "Number of RPC authentication refreshes performed.", value=float(refreshes)),
            requests,
        ]
