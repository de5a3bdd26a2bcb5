"""Content negotiation shared by the servers: whether a client accepts a gzip body."""

from __future__ import annotations

import math


def _quality(params: str) -> float | None:
    """The ``q`` of one ``Accept-Encoding`` element; None when absent or malformed (RFC 9110: 0..1)."""
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return None
            return q if math.isfinite(q) and 0.0 <= q <= 1.0 else None
    return None


def accepts_gzip(header: str) -> bool:
    """True when ``Accept-Encoding`` allows gzip: ``gzip`` (or ``*``) with a q above 0.

    Any ``q=0`` (``0``, ``0.0``, ``0.000``) refuses; a malformed q (``q=-1``, ``q=abc``) counts as
    absent, i.e. q=1. An explicit ``gzip`` element wins over ``*``.
    """
    star: bool | None = None
    for element in header.split(","):
        coding, _, params = element.partition(";")
        coding = coding.strip().lower()
        if coding not in ("gzip", "x-gzip", "*"):
            continue
        q = _quality(params)
        allowed = q is None or q > 0
        if coding == "*":
            star = allowed
        else:
            return allowed
    return bool(star)
