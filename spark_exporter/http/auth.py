"""Basic auth against bcrypt hashes, shaped so that a flood of wrong passwords cannot lock out a scraper.

* Credentials verified once are remembered by the SHA-256 of their ``Authorization`` header (at most
  ``cache_size`` of them, least recently used dropped). A request carrying them is answered from
  that cache before any bcrypt work and is never delayed or refused by the failure throttle, even
  when it shares an address with an attacker.
* bcrypt runs in a worker thread (the event loop never blocks), at most ``max_concurrent`` at once,
  with at most ``max_waiting`` requests queued behind them; beyond that the answer is 429.
* Failures are throttled per client address (token bucket: ``failure_burst`` failures at once,
  refilled at ``failure_rate`` per second); a throttled client gets 429 with ``Retry-After``.
* An unknown user name is checked against a dummy hash of the same cost as the configured ones, so
  a wrong user and a wrong password cost the same bcrypt work and cannot be told apart by timing.
* Anything that is not ``Basic <base64 of user:password>`` in ASCII (bytes above 0x7f included) is
  refused as 401 without bcrypt work.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hashlib
from collections import OrderedDict
from collections.abc import Mapping

import bcrypt

from .ratelimit import TokenBuckets


class Outcome(enum.Enum):
    """The result of an authentication check: OK, DENIED (401) or THROTTLED (429)."""

    OK = "ok"
    DENIED = "denied"  # 401
    THROTTLED = "throttled"  # 429


def bcrypt_cost(hashed: bytes) -> int:
    """The cost factor of a ``$2b$NN$...`` hash (4..31); raises ValueError if it has none."""
    parts = hashed.split(b"$")
    if len(parts) < 4 or not parts[2].isdigit() or not 4 <= int(parts[2]) <= 31 or len(parts[3]) != 53:
        raise ValueError("not a bcrypt hash")
    return int(parts[2])


def parse_basic(header: str | None) -> tuple[bytes, bytes] | None:
    """``(user, password)`` from ``Basic <base64>``; None for anything else (including non-ASCII)."""
    if not header:
        return None
    try:
        raw = header.encode("ascii")
    except UnicodeEncodeError:
        return None
    scheme, _, token = raw.partition(b" ")
    if scheme.lower() != b"basic" or not token.strip():
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


class BasicAuth:
    """Checks ``Authorization`` headers against ``users`` (name -> bcrypt hash, ``$2b$`` form)."""

    def __init__(self, users: Mapping[str, bytes], *, max_concurrent: int = 2, max_waiting: int = 64,
                 failure_burst: int = 10, failure_rate: float = 1.0, cache_size: int = 256) -> None:
        self.users = {u.encode("utf-8"): h for u, h in users.items()}
        cost = max((bcrypt_cost(h) for h in self.users.values()), default=4)
        # Same cost as the real hashes: an unknown user costs the same work as a wrong password.
        self._dummy = bcrypt.hashpw(b"spark-exporter: no such user", bcrypt.gensalt(rounds=cost))
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size
        self._max_concurrent = max_concurrent
        self._sem: asyncio.Semaphore | None = None
        self._waiting = 0
        self._max_waiting = max_waiting
        self.throttle = TokenBuckets(failure_rate, failure_burst)  # a token per failed login
        self.bcrypt_calls = 0

    def _check(self, user: bytes, password: bytes) -> bool:
        self.bcrypt_calls += 1
        hashed = self.users.get(user)
        try:
            ok = bcrypt.checkpw(password, hashed if hashed is not None else self._dummy)
        except ValueError:  # over 72 bytes, NUL bytes: refused, by either branch alike
            ok = False
        return ok and hashed is not None

    async def check(self, header: str | None, client: str) -> tuple[Outcome, float]:
        """The outcome for one request, and for THROTTLED the seconds to wait."""
        creds = parse_basic(header)
        if creds is None or header is None:
            return Outcome.DENIED, 0.0
        key = hashlib.sha256(header.encode("ascii")).digest()
        if key in self._verified:
            self._verified.move_to_end(key)
            return Outcome.OK, 0.0
        wait = self.throttle.wait(client)
        if wait is not None:
            return Outcome.THROTTLED, wait
        if self._waiting >= self._max_waiting:
            return Outcome.THROTTLED, 1.0
        if self._sem is None:
            self._sem = asyncio.Semaphore(self._max_concurrent)
        self._waiting += 1
        try:
            async with self._sem:
                ok = await asyncio.to_thread(self._check, *creds)
        finally:
            self._waiting -= 1
        if ok:
            self._verified[key] = None
            while len(self._verified) > self._cache_size:
                self._verified.popitem(last=False)
            return Outcome.OK, 0.0
        self.throttle.spend(client)
        return Outcome.DENIED, 0.0
