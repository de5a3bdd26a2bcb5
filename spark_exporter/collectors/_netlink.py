"""Per-link counters from the running kernel over rtnetlink (one ``RTM_GETLINK`` dump), for netdev, and the
addresses of each link (an ``RTM_GETADDR`` dump) for ``--collector.netdev.address-info``.

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
import ipaddress
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator

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
_RTM_NEWADDR = 20
_RTM_GETADDR = 22
_IFADDRMSG = struct.Struct("=BBBBI")  # ifa_family, ifa_prefixlen, ifa_flags, ifa_scope, ifa_index
# linux/if_addr.h
_IFA_ADDRESS = 1
_IFA_LOCAL = 2
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


def _messages(data: bytes, what: str) -> tuple[list[tuple[int, int, int]], bool]:
    """The (type, body offset, end offset) of each message of one netlink read, and whether ``NLMSG_DONE``
    ended it. Raises :class:`NetlinkError` for an ``NLMSG_ERROR`` answer or an ``NLMSG_DONE`` carrying an
    error code (``what`` names the request) or a message whose length runs past the read."""
    out: list[tuple[int, int, int]] = []
    offset = 0
    while offset + _NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG_HDR.unpack_from(data, offset)
        if length < _NLMSG_HDR.size or offset + length > len(data):
            raise NetlinkError(f"netlink: malformed message (length {length} at offset {offset})")
        body = offset + _NLMSG_HDR.size
        if kind == _NLMSG_DONE:
            # A dump the kernel cut short ends with NLMSG_DONE carrying its negative errno (netlink_dump's
            # dump_done_errno, e.g. -EMSGSIZE for a link too large for the buffer): an error, not a short list.
            if length >= _NLMSG_HDR.size + 4:
                (code,) = struct.unpack_from("=i", data, body)
                if code < 0:
                    raise NetlinkError(-code, f"netlink: {what} dump cut short: {os.strerror(-code)}")
            return out, True
        if kind == _NLMSG_ERROR:
            if length < _NLMSG_HDR.size + 4:
                raise NetlinkError(f"netlink: malformed error message (length {length} at offset {offset})")
            (code,) = struct.unpack_from("=i", data, body)
            if code != 0:  # zero: an acknowledgement, not an error
                raise NetlinkError(-code, f"netlink: {what} refused: {os.strerror(-code)}")
        else:
            out.append((kind, body, offset + length))
        offset += _align(length)
    return out, False


def _attributes(data: bytes, start: int, end: int) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of each route attribute in ``data[start:end]``; one running past ``end`` is an error."""
    attr = start
    while attr + _RTATTR.size <= end:
        alen, atype = _RTATTR.unpack_from(data, attr)
        if alen < _RTATTR.size or attr + alen > end:
            raise NetlinkError(f"netlink: malformed attribute (length {alen} at offset {attr})")
        yield atype, data[attr + _RTATTR.size:attr + alen]
        attr += _align(alen)


def parse_link_messages(data: bytes, links: dict[str, dict[str, int]],
                        names: dict[int, str] | None = None) -> bool:
    """Add the ``RTM_NEWLINK`` messages of one netlink read to ``links`` (device name -> counters by
    :data:`STATS_FIELDS` name; ``IFLA_STATS64`` preferred, else the 32-bit ``IFLA_STATS``; a link with
    neither, or without a name, is left out) and, when given, to ``names`` (interface index -> name, every
    named link). Returns True once ``NLMSG_DONE`` is read.

    Raises :class:`NetlinkError` for an ``NLMSG_ERROR`` answer or a malformed message."""
    messages, done = _messages(data, "RTM_GETLINK")
    for kind, body, end in messages:
        if kind != _RTM_NEWLINK or end - body < _IFINFOMSG.size:
            continue
        index = _IFINFOMSG.unpack_from(data, body)[2]
        name: str | None = None
        stats: dict[str, int] | None = None
        stats32: dict[str, int] | None = None
        for atype, payload in _attributes(data, body + _IFINFOMSG.size, end):
            if atype == _IFLA_IFNAME:
                name = payload.split(b"\0", 1)[0].decode("utf-8", "replace")
            elif atype == _IFLA_STATS64:
                stats = _stats(payload, 8)
            elif atype == _IFLA_STATS:
                stats32 = _stats(payload, 4)
        row = stats if stats is not None else stats32
        if name and row:
            links[name] = row
        if name and names is not None:
            names[index] = name
    return done


def parse_addr_messages(data: bytes, addrs: list[tuple[int, ipaddress.IPv4Address | ipaddress.IPv6Address, int]]
                        ) -> bool:
    """Add the ``RTM_NEWADDR`` messages of one netlink read to ``addrs`` as (interface index, address, prefix
    length): ``IFA_LOCAL`` where the kernel gives it (the local end of a point-to-point address), else
    ``IFA_ADDRESS``, as Go's ``net.Interface.Addrs`` (node_exporter's source) picks. Returns True once
    ``NLMSG_DONE`` is read. Raises :class:`NetlinkError` for an ``NLMSG_ERROR`` answer or a malformed message."""
    messages, done = _messages(data, "RTM_GETADDR")
    for kind, body, end in messages:
        if kind != _RTM_NEWADDR or end - body < _IFADDRMSG.size:
            continue
        family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(data, body)
        width = {socket.AF_INET: 4, socket.AF_INET6: 16}.get(family)
        if width is None:
            continue
        found = {atype: payload for atype, payload in _attributes(data, body + _IFADDRMSG.size, end)
                 if atype in (_IFA_ADDRESS, _IFA_LOCAL) and len(payload) >= width}
        raw = found.get(_IFA_LOCAL, found.get(_IFA_ADDRESS))
        if raw is not None:
            addrs.append((index, ipaddress.ip_address(raw[:width]), prefixlen))
    return done


def _dump(kind: int, header: bytes, parse: Callable[[bytes], bool], what: str, timeout: float) -> None:
    """Send one ``NLM_F_DUMP`` request of type ``kind`` and hand each read to ``parse`` until it returns True.
    Bounded by RECV_BUFFER per read, MAX_DUMP in all and ``timeout`` seconds; raises NetlinkError."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    except OSError as exc:
        raise NetlinkError(exc.errno or errno.EIO, f"netlink: cannot open a route socket: {exc.strerror}") from exc
    with sock:
        request = _NLMSG_HDR.pack(_NLMSG_HDR.size + len(header), kind, _NLM_F_REQUEST | _NLM_F_DUMP,
                                  _SEQ, 0) + header
        total = 0
        try:
            sock.settimeout(timeout)
            sock.sendto(request, (0, 0))
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NetlinkError(errno.ETIMEDOUT, f"netlink: no complete {what} dump within {timeout:g} s")
                sock.settimeout(remaining)
                data, _, flags, _ = sock.recvmsg(RECV_BUFFER)
                if flags & socket.MSG_TRUNC:
                    raise NetlinkError(errno.EMSGSIZE, f"netlink: a message over {RECV_BUFFER} bytes")
                total += len(data)
                if total > MAX_DUMP:
                    raise NetlinkError(errno.EMSGSIZE, f"netlink: {what} dump over {MAX_DUMP} bytes")
                if not data or parse(data):
                    return
        except TimeoutError as exc:
            raise NetlinkError(errno.ETIMEDOUT, f"netlink: no complete {what} dump within {timeout:g} s") from exc
        except NetlinkError:
            raise
        except OSError as exc:
            raise NetlinkError(exc.errno or errno.EIO, f"netlink: {exc.strerror or exc}") from exc


def _link_header() -> bytes:
    return _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)


def link_stats(timeout: float = 5.0) -> dict[str, dict[str, int]]:
    """Every link of this network namespace and its counters (see :func:`parse_link_messages`), from one
    ``RTM_GETLINK`` dump. Values are the kernel's, unscaled (bytes, packets, events).

    Raises :class:`NetlinkError` (an ``OSError``) when the socket cannot be opened, the kernel refuses,
    ``timeout`` seconds pass, a message is truncated or the dump exceeds :data:`MAX_DUMP` bytes."""
    links: dict[str, dict[str, int]] = {}
    _dump(_RTM_GETLINK, _link_header(), lambda data: parse_link_messages(data, links), "link", timeout)
    return links


def addresses(timeout: float = 5.0) -> list[tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address, int]]:
    """Every IPv4 and IPv6 address of this network namespace as (device name, address, prefix length), from one
    ``RTM_GETLINK`` dump (index -> name) and one ``RTM_GETADDR`` dump, in the kernel's order; an address whose
    link is gone between the two dumps is left out. ``timeout`` bounds each dump. Raises :class:`NetlinkError`
    as :func:`link_stats` does."""
    names: dict[int, str] = {}
    _dump(_RTM_GETLINK, _link_header(), lambda data: parse_link_messages(data, {}, names), "link", timeout)
    addrs: list[tuple[int, ipaddress.IPv4Address | ipaddress.IPv6Address, int]] = []
    _dump(_RTM_GETADDR, _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0),
          lambda data: parse_addr_messages(data, addrs), "address", timeout)
    return [(names[index], addr, prefix) for index, addr, prefix in addrs if index in names]
