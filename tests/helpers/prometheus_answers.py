"""Prometheus answers for the query client's tests: bodies a hostile or broken upstream sends."""

from __future__ import annotations

import gzip


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body that inflates to about ``inflated`` bytes of one valid vector answer (a huge label).

    Made of gzip members (RFC 1952 allows several), one 1 MiB block compressed once and repeated.
    """
    block = gzip.compress(b"a" * (1 << 20), 9)
    head = gzip.compress(b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"')
    tail = gzip.compress(b'"},"value":[1,"1"]}]}}')
    return head + block * (inflated >> 20) + tail
