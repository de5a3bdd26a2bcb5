"""The write-deadline sweeper wakes only while some connection holds unsent bytes (an idle server does no work)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from spark_exporter.http.server import Limits, _Conn, _Guard, _sweep


class _Transport(asyncio.WriteTransport):
    def __init__(self) -> None:
        super().__init__()
        self.buffered = 0
        self.aborted = False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True


async def _sweeps(guard: _Guard, seconds: float) -> int:
    calls = 0
    real = guard.sweep

    def counted(now: float) -> None:
        nonlocal calls
        calls += 1
        real(now)

    guard.sweep = counted  # type: ignore[method-assign]
    task = asyncio.create_task(_sweep(guard, 0.01))
    await asyncio.sleep(seconds)
    task.cancel()
    guard.sweep = real  # type: ignore[method-assign]
    return calls


async def test_idle_server_never_sweeps() -> None:
    """No connection, or connections whose answers drained: the sweeper stays asleep."""
    guard = _Guard(Limits(write_timeout=0.05))
    transport = _Transport()
    conn = guard.conns[transport] = _Conn(transport, protocol=Any)  # type: ignore[arg-type]
    guard.watch(conn)  # an answer that drained at once
    assert await _sweeps(guard, 0.15) == 0


async def test_unsent_answer_is_swept_until_aborted_then_sleeps() -> None:
    """An answer left unread wakes the sweeper; past the write deadline the connection is aborted and the
    sweeper goes back to sleep."""
    guard = _Guard(Limits(write_timeout=0.05))
    transport = _Transport()
    conn = guard.conns[transport] = _Conn(transport, protocol=Any)  # type: ignore[arg-type]
    transport.buffered = 1 << 20
    conn.stuck_since = time.monotonic()
    guard.watch(conn)
    first = await _sweeps(guard, 0.3)
    assert first > 0 and transport.aborted and transport not in guard.conns
    assert not guard.unsent.is_set()
    assert await _sweeps(guard, 0.1) == 0
