"""NFS server statistics from <procfs>/net/rpc/nfsd (node_exporter's nfsd collector).

Reply cache (``node_nfsd_reply_cache_{hits,misses,nocache}_total``), stale file handles, disk bytes
read and written, ``node_nfsd_server_threads``, the read-ahead cache size and misses,
``node_nfsd_packets_total{proto}``, ``node_nfsd_connections_total``, ``node_nfsd_rpc_errors_total{error}``
(fmt, auth, cInt), ``node_nfsd_server_rpcs_total`` and ``node_nfsd_requests_total{proto,method}`` for the
v2 and v3 procedures and v4 operations (as node_exporter lists them: without Null and the unused v4
operation numbers) plus ``WdelegGetattr``. Parsed as prometheus/procfs does: a missing line counts 0, a
malformed one fails the collector. A host that is no NFS server has no file: nothing is served.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector
from .nfs import V2, V3, fixed, procedures, requests_family

# procfs' V4Ops, in proc4ops order (v[1]..v[40]); node_exporter serves them from Access on.
V4_OPS = ("Op0Unused Op1Unused Op2Future Access Close Commit Create DelegPurge DelegReturn GetAttr GetFH Link Lock "
          "Lockt Locku Lookup LookupRoot Nverify Open OpenAttr OpenConfirm OpenDgrd PutFH PutPubFH PutRootFH Read "
          "ReadDir ReadLink Remove Rename Renew RestoreFH SaveFH SecInfo SetAttr SetClientID SetClientIDConfirm "
          "Verify Write RelLockOwner").split()
# The v4 operations node_exporter serves (it skips the unused numbers and the public/root file handle ops).
SERVED_V4 = [op for op in V4_OPS if op not in ("Op0Unused", "Op1Unused", "Op2Future", "PutPubFH", "PutRootFH")]
_KNOWN = {"rc", "fh", "io", "th", "ra", "net", "rpc", "proc2", "proc3", "proc4", "proc4ops", "wdeleg_getattr"}


def parse_nfsd(text: str) -> dict[str, list[int]]:
    """``name -> values`` of /proc/net/rpc/nfsd (``th``: its first two values only); ValueError if malformed."""
    out: dict[str, list[int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2 or (parts[0] == "th" and len(parts) < 3):
            raise ValueError(f"invalid NFSd metric line {line!r}")
        if parts[0] not in _KNOWN:
            raise ValueError(f"unknown NFSd metric line {parts[0]!r}")
        out[parts[0]] = [int(p) for p in (parts[1:3] if parts[0] == "th" else parts[1:])]
    return out


def _v4_ops(values: list[int] | None) -> dict[str, int]:
    if values is None:
        return dict.fromkeys(V4_OPS, 0)
    count = values[0]
    if len(values) - 1 != count or count < 39:
        raise ValueError(f"invalid V4Ops line {values}")
    body = values[1:41] + [0] * max(0, 40 - count)
    return dict(zip(V4_OPS, body, strict=True))


@register
class NfsdCollector(Collector):
    """Serves node_nfsd_* from <procfs>/net/rpc/nfsd (see the module docstring)."""

    name = "nfsd"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        try:
            lines = parse_nfsd(read_text(self.paths.proc("net", "rpc", "nfsd")))
        except FileNotFoundError:
            return []
        hits, misses, nocache = fixed(lines.get("rc"), 3, "ReplyCache")
        stale = fixed(lines.get("fh"), 5, "FileHandles")[0]
        read, written = fixed(lines.get("io"), 2, "InputOutput")
        threads = fixed(lines.get("th"), 2, "Threads")[0]
        ra = fixed(lines.get("ra"), 12, "ReadAheadCache")
        _, udp, tcp, connect = fixed(lines.get("net"), 4, "Network")
        rpcs, _, bad_fmt, bad_auth, bad_cint = fixed(lines.get("rpc"), 5, "ServerRPC")
        if "proc4" in lines and (lines["proc4"][0] != 2 or len(lines["proc4"]) != 3):
            raise ValueError(f"invalid V4Stats line {lines['proc4']}")

        def counter(suffix: str, doc: str, value: int) -> CounterMetricFamily:
            return CounterMetricFamily(f"node_nfsd_{suffix}", doc, value=float(value))

        packets = CounterMetricFamily("node_nfsd_packets_total",
                                      "Total NFSd network packets (sent+received) by protocol type.", labels=["proto"])
        packets.add_metric(["udp"], float(udp))
        packets.add_metric(["tcp"], float(tcp))
        errors = CounterMetricFamily("node_nfsd_rpc_errors_total", "Total number of NFSd RPC errors by error type.",
                                     labels=["error"])
        for label, value in (("fmt", bad_fmt), ("auth", bad_auth), ("cInt", bad_cint)):
            errors.add_metric([label], float(value))
        requests = requests_family("Total number NFSd Requests by method and protocol.", "node_nfsd_requests_total")
        for proto, names in (("2", V2), ("3", V3)):
            for method, value in zip(names, procedures(lines.get(f"proc{proto}"), names, f"proc{proto}"),
                                     strict=True):
                if method != "Null":
                    requests.add_metric([proto, method], float(value))
        ops = _v4_ops(lines.get("proc4ops"))
        for op in SERVED_V4:
            requests.add_metric(["4", op], float(ops[op]))
        requests.add_metric(["4", "WdelegGetattr"], float((lines.get("wdeleg_getattr") or [0])[0]))
        return [
            counter("reply_cache_hits_total", "Total number of NFSd Reply Cache hits (client lost server response).",
                    hits),
            counter("reply_cache_misses_total",
                    "Total number of NFSd Reply Cache an operation that requires caching (idempotent).", misses),
            counter("reply_cache_nocache_total",
                    "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).", nocache),
            counter("file_handles_stale_total", "Total number of NFSd stale file handles", stale),
            counter("disk_bytes_read_total", "Total NFSd bytes read.", read),
            counter("disk_bytes_written_total", "Total NFSd bytes written.", written),
            GaugeMetricFamily("node_nfsd_server_threads", "Total number of NFSd kernel threads that are running.",
                              value=float(threads)),
            GaugeMetricFamily("node_nfsd_read_ahead_cache_size_blocks", "How large the read ahead cache is in blocks.",
                              value=float(ra[0])),
            counter("read_ahead_cache_not_found_total", "Total number of NFSd read ahead cache not found.", ra[11]),
            packets,
            counter("connections_total", "Total number of NFSd TCP connections.", connect),
            errors,
            counter("server_rpcs_total", "Total number of NFSd RPCs.", rpcs),
            requests,
        ]
