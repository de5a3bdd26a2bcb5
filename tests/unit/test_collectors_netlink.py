"""netdev's netlink source: the RTM_GETLINK dump parser on crafted kernel messages, and the live kernel."""

from __future__ import annotations

import errno
import os
import socket
import struct

import pytest

from helpers.host import make, parsed
from spark_exporter.collectors import _netlink
from spark_exporter.collectors._netlink import STATS_FIELDS, NetlinkError, link_stats, parse_link_messages


def _attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def _link(name: str, stats64: list[int] | None = None, stats32: list[int] | None = None) -> bytes:
    attrs = _attr(3, name.encode() + b"\0")
    if stats32 is not None:
        attrs += _attr(7, struct.pack(f"={len(stats32)}I", *stats32))
    if stats64 is not None:
        attrs += _attr(23, struct.pack(f"={len(stats64)}Q", *stats64))
    body = struct.pack("=BxHiII", 0, 772, 1, 0, 0) + attrs
    return struct.pack("=IHHII", 16 + len(body), 16, 2, 1, 0) + body


DONE = struct.pack("=IHHIIi", 20, 3, 2, 1, 0, 0)


class TestParse:
    def test_stats64_preferred_and_named_by_field(self) -> None:
        """IFLA_STATS64 wins over IFLA_STATS; each value lands under its struct field's name."""
        links: dict[str, dict[str, int]] = {}
        done = parse_link_messages(_link("eth0", stats64=list(range(1, 25)), stats32=[7] * 24) + DONE, links)
        assert done
        assert links["eth0"] == dict(zip(STATS_FIELDS, range(1, 25), strict=False))
        assert links["eth0"]["rx_bytes"] == 3 and links["eth0"]["rx_nohandler"] == 24

    def test_32_bit_stats_and_older_kernels(self) -> None:
        """A link with only IFLA_STATS is read from it; a shorter struct (older kernel) leaves the rest out."""
        links: dict[str, dict[str, int]] = {}
        assert not parse_link_messages(_link("old0", stats32=list(range(23))), links)
        assert links["old0"]["tx_compressed"] == 22 and "rx_nohandler" not in links["old0"]

    def test_link_without_stats_is_left_out(self) -> None:
        links: dict[str, dict[str, int]] = {}
        parse_link_messages(_link("bare0") + _link("lo", stats64=[0] * 25) + DONE, links)
        assert set(links) == {"lo"}

    def test_kernel_error_is_raised(self) -> None:
        """An NLMSG_ERROR answer is an OSError with the kernel's errno; a zero one is an acknowledgement."""
        ack = struct.pack("=IHHIIi", 20, 2, 0, 1, 0, 0)
        assert parse_link_messages(ack + DONE, {})
        refused = struct.pack("=IHHIIi", 20, 2, 0, 1, 0, -errno.EPERM)
        with pytest.raises(NetlinkError) as err:
            parse_link_messages(refused, {})
        assert err.value.errno == errno.EPERM and "Operation not permitted" in str(err.value)

    def test_dump_cut_short_by_the_kernel_is_an_error(self) -> None:
        """A dump the kernel ends early ends with NLMSG_DONE carrying the negative errno (netlink_dump's
        dump_done_errno): an error with that errno, not the links read so far as if they were all."""
        cut = struct.pack("=IHHIIi", 20, 3, 2, 1, 0, -errno.EMSGSIZE)
        links: dict[str, dict[str, int]] = {}
        with pytest.raises(NetlinkError) as err:
            parse_link_messages(_link("eth0", stats64=[1] * 24) + cut, links)
        assert err.value.errno == errno.EMSGSIZE and "cut short" in str(err.value)
        assert parse_link_messages(_link("eth0", stats64=[1] * 24) + DONE, links) and set(links) == {"eth0"}

    def test_message_longer_than_the_read_is_an_error(self) -> None:
        """A message whose length runs past the data read is an error, never a short row."""
        with pytest.raises(NetlinkError, match="malformed message"):
            parse_link_messages(_link("eth0", stats64=[1] * 25)[:-8], {})

    def test_attribute_longer_than_its_message_is_an_error(self) -> None:
        """An attribute whose length runs past its message is an error, never a shifted row."""
        msg = bytearray(_link("eth0", stats64=[1] * 25))
        struct.pack_into("=H", msg, 32, 400)  # the first attribute (IFLA_IFNAME) after the two headers
        with pytest.raises(NetlinkError, match="malformed attribute"):
            parse_link_messages(bytes(msg), {})


class TestLiveKernel:
    def test_every_link_of_this_namespace(self) -> None:
        """The dump names the links /sys/class/net shows for this namespace, with their counters."""
        links = link_stats()
        assert set(links) == {d for d in os.listdir("/sys/class/net") if os.path.isdir(f"/sys/class/net/{d}")}
        for device, stats in links.items():
            with open(f"/sys/class/net/{device}/statistics/rx_errors") as f:
                assert stats["rx_errors"] == int(f.read()), device
            assert stats["rx_bytes"] >= 0

    def test_netdev_serves_the_live_links_by_default(self) -> None:
        """Default netdev (netlink on) serves the live loopback even on a root without it, as node_exporter does."""
        collector = make("netdev", "--collector.netdev.netlink", "--collector.netdev.device-include=^lo$")
        fams = parsed(collector.collect())
        assert {s.labels["device"] for s in fams["node_network_receive_bytes"].samples} == {"lo"}
        assert fams["node_network_receive_nohandler"].samples[0].value >= 0
        assert len(fams) == 17

    def test_a_refused_socket_fails_the_collector(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No route socket (a sandbox forbids it): one NetlinkError naming the cause, not a traceback elsewhere."""
        def refuse(*_: object) -> socket.socket:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(_netlink.socket, "socket", refuse)
        with pytest.raises(NetlinkError, match="cannot open a route socket: Permission denied"):
            list(make("netdev", "--collector.netdev.netlink").collect())

    def test_dump_over_its_cap_is_an_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The whole dump is bounded: past MAX_DUMP bytes the read stops with an error."""
        monkeypatch.setattr(_netlink, "MAX_DUMP", 64)
        with pytest.raises(NetlinkError, match="link dump over 64 bytes"):
            link_stats()

    def test_a_silent_kernel_meets_the_deadline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every wait has a deadline: a socket that never answers ends in one NetlinkError (ETIMEDOUT)."""
        real = socket.socket

        class Silent(real):  # type: ignore[misc,valid-type]
            def recvmsg(self, *_: object) -> tuple[bytes, list[object], int, object]:
                raise TimeoutError

        monkeypatch.setattr(_netlink.socket, "socket", Silent)
        with pytest.raises(NetlinkError, match=r"no complete link dump within 0\.2 s") as err:
            link_stats(timeout=0.2)
        assert err.value.errno == errno.ETIMEDOUT


def test_short_error_message_is_malformed() -> None:
    """An NLMSG_ERROR without room for its code is a NetlinkError, not a struct.error."""
    with pytest.raises(NetlinkError, match="malformed error message"):
        parse_link_messages(struct.pack("=IHHII", 16, 2, 0, 1, 0), {})
