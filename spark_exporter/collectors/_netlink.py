"""Per-link counters from the running kernel over rtnetlink (one ``RTM_GETLINK`` dump), for netdev.

node_exporter's netdev collector reads these by default (``--collector.netdev.netlink``), so a drop-in
must too: a device that only netlink shows (the loopback device of a root mounted elsewhere) is still
served. Netlink answers for the exporter's own network namespace; ``--path.procfs`` does not apply.

The dump is parsed here with :mod:`struct` rather than through pyroute2, because the host collectors
have a measured CPU target (per scrape at most node_exporter's, ``bench/bench_host.py``). Measured on
the build machine, 4 links, CPU time per dump: pyroute2 0.9.7's ``IPRoute().get_links()`` 1.2 ms (and
134 ms and about 25 MB to import), this module 0.1 ms, socket calls included. The message layouts are the kernel's UAPI
(``linux/netlink.h``, ``linux/rtnetlink.h``, ``linux/if_link.h``).

Bounds: each receive is at most :data:`RECV_BUFFER` bytes (a truncated message is an error, not a
short row), the whole dump at most :data:`MAX_DUMP` bytes, and every wait has ``timeout`` seconds.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import time

# linux/netlink.h
_NLMSG_HDR = struct.Struct("=IHHII")  # nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300  # NLM_F_ROOT | NLM_F_MATCH
# linux/rtnetlink.h
_RTM_NEWLINK = 16
_RTM_GETLINK = 18
_IFINFOMSG = struct.Struct("=BxHiII")  # ifi_family, pad, ifi_type, ifi_index, ifi_flags, ifi_change
_RTATTR = struct.Struct("=HH")  # rta_len, rta_type
# linux/if_link.h
_IFLA_IFNAME = 3
_IFLA_STATS = 7
_IFLA_STATS64 = 23

#: ``struct rtnl_link_stats64`` (and ``rtnl_link_stats``, the 32-bit one) field names, in struct order.
#: They are also the file names under ``/sys/class/net/DEV/statistics``. A kernel that writes fewer
#: fields (older kernels end before ``rx_nohandler``) leaves the rest out of the row.
STATS_FIELDS = (
    "rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
    "multicast", "collisions", "rx_length_errors", "rx_over_errors", "rx_crc_errors", "rx_frame_errors",
    "rx_fifo_errors", "rx_missed_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors",
    "tx_heartbeat_errors", "tx_window_errors", "rx_compressed", "tx_compressed", "rx_nohandler",
    "rx_otherhost_dropped",
)

RECV_BUFFER = 1 << 16  # the kernel's dump messages are at most 32 KiB (netlink_dump's allocation)
MAX_DUMP = 16 << 20  # about 16,000 links' worth
_SEQ = 1


class NetlinkError(OSError):
    """The kernel refused the dump, or its answer broke a bound or the message format."""


def _align(n: int) -> int:
    return (n + 3) & ~3


def _stats(data: bytes, width: int) -> dict[str, int]:
    count = min(len(data) // width, len(STATS_FIELDS))
    values = struct.unpack_from(f"={count}{'Q' if width == 8 else 'I'}", data)
    return dict(zip(STATS_FIELDS, values, strict=False))


def parse_link_messages(data: bytes, links: dict[str, dict[str, int]]) -> bool:
    """Add the ``RTM_NEWLINK`` messages of one netlink read to ``links`` (device name -> counters by
    :data:`STATS_FIELDS` name; ``IFLA_STATS64`` preferred, else the 32-bit ``IFLA_STATS``; a link with
    neither, or without a name, is left out). Returns True once ``NLMSG_DONE`` is read.

    Raises :class:`NetlinkError` for an ``NLMSG_ERROR`` answer or a malformed message."""
    offset = 0
    while offset + _NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data, offset)
        if length < _NLMSG_HDR.size or offset + length > len(data):
            raise NetlinkError(f"netlink: malformed message (length {length} at offset {offset})")
        body = offset + _NLMSG_HDR.size
        if kind == _NLMSG_DONE:
            return True
        if kind == _NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", data, body)
            if code == 0:  # an acknowledgement, not an error
                offset += _align(length)
                continue
            raise NetlinkError(-code, f"netlink: RTM_GETLINK refused: {os.strerror(-code)}")
        if kind == _RTM_NEWLINK and length >= _NLMSG_HDR.size + _IFINFOMSG.size:
            name: str | None = None
            stats: dict[str, int] | None = None
            stats32: dict[str, int] | None = None
            attr = body + _IFINFOMSG.size
            end = offset + length
            while attr + _RTATTR.size <= end:
                alen, atype = _RTATTR.unpack_from(data, attr)
                if alen < _RTATTR.size or attr + alen > end:
                    raise NetlinkError(f"netlink: malformed attribute (length {alen} at offset {attr})")
                payload = data[attr + _RTATTR.size:attr + alen]
                if atype == _IFLA_IFNAME:
                    name = payload.split(b"\0", 1)[0].decode("utf-8", "replace")
                elif atype == _IFLA_STATS64:
                    stats = _stats(payload, 8)
                elif atype == _IFLA_STATS:
                    stats32 = _stats(payload, 4)
                attr += _align(alen)
            row = stats if stats is not None else stats32
            if name and row:
                links[name] = row
        offset += _align(length)
    return False


def link_stats(timeout: float = 5.0) -> dict[str, dict[str, int]]:
    """Every link of this network namespace and its counters (see :func:`parse_link_messages`), from one
    ``RTM_GETLINK`` dump. Values are the kernel's, unscaled (bytes, packets, events).

    Raises :class:`NetlinkError` (an ``OSError``) when the socket cannot be opened, the kernel refuses,
    ``timeout`` seconds pass, a message is truncated or the dump exceeds :data:`MAX_DUMP` bytes."""
    deadline = time.monotonic() + timeout
    links: dict[str, dict[str, int]] = {}
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    except OSError as exc:
        raise NetlinkError(exc.errno or errno.EIO, f"netlink: cannot open a route socket: {exc.strerror}") from exc
    with sock:
        request = _NLMSG_HDR.pack(_NLMSG_HDR.size + _IFINFOMSG.size, _RTM_GETLINK, _NLM_F_REQUEST | _NLM_F_DUMP,
                                  _SEQ, 0) + _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        total = 0
        try:
            sock.settimeout(timeout)
            sock.sendto(request, (0, 0))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NetlinkError(errno.ETIMEDOUT, f"netlink: no complete link dump within {timeout:g} s")
                sock.settimeout(remaining)
                data, _, flags, _ = sock.recvmsg(RECV_BUFFER)
                if flags & socket.MSG_TRUNC:
                    raise NetlinkError(errno.EMSGSIZE, f"netlink: a message over {RECV_BUFFER} bytes")
                total += len(data)
                if total > MAX_DUMP:
                    raise NetlinkError(errno.EMSGSIZE, f"netlink: link dump over {MAX_DUMP} bytes")
                if not data or parse_link_messages(data, links):
                    return links
        except TimeoutError as exc:
            raise NetlinkError(errno.ETIMEDOUT, f"netlink: no complete link dump within {timeout:g} s") from exc
        except NetlinkError:
            raise
        except OSError as exc:
            raise NetlinkError(exc.errno or errno.EIO, f"netlink: {exc.strerror or exc}") from exc
