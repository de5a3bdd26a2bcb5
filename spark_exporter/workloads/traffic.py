"""Simulated request traffic for the SGLang and llama.cpp stand-ins: one server, a fixed number of slots.

Requests arrive as a Poisson process (a function of the seed), wait for a free slot, are prefilled at
``prefill_tokens_per_s`` and then decode one token every ``itl_s`` seconds (slower as the batch grows)
until they reach their length. The simulation advances in steps of ``STEP_S`` seconds of its clock when
:meth:`Traffic.advance` is called (on each scrape), at most ``MAX_CATCH_UP_S`` of it at a time, so the
same seed and the same call times give the same events. Each event goes to the :class:`Listener`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

STEP_S = 0.05  # simulated seconds per step
MAX_CATCH_UP_S = 60.0  # a longer pause between calls is skipped, not replayed (bounded work per call)
MAX_WAITING = 256  # requests beyond this queue length are aborted on arrival (bounded memory)


@dataclass
class Request:
    """One request: times in seconds of the simulation clock, sizes in tokens."""

    arrival: float
    prompt_tokens: int
    target_tokens: int
    streaming: bool
    scheduled: float | None = None
    prefill_done_at: float | None = None
    first_token: float | None = None
    last_token: float | None = None
    generated: int = 0


class Listener:
    """What a stand-in records; every method does nothing unless overridden."""

    def arrived(self, req: Request, queue_full: bool) -> None:
        """``req`` arrived (and was aborted at once when ``queue_full``)."""

    def prefilled(self, req: Request, t: float, seconds: float) -> None:
        """The prompt of ``req`` was processed in ``seconds``; its first token appeared at ``t``."""

    def token(self, req: Request, itl_s: float) -> None:
        """``req`` generated one more token, ``itl_s`` seconds after its previous one."""

    def finished(self, req: Request, t: float) -> None:
        """``req`` finished at ``t``."""

    def stepped(self, traffic: Traffic, t: float) -> None:
        """One step ended at ``t`` (gauges are set here)."""


class Traffic:
    """The simulated server's queue and slots, advanced to ``clock()`` (seconds, monotonic).

    Raises ValueError for ``rate`` <= 0 or ``slots`` < 1.
    """

    def __init__(self, listener: Listener, seed: int = 0, rate: float = 2.0, slots: int = 8,
                 prefill_tokens_per_s: float = 4000.0, itl_s: float = 0.03, max_tokens: int = 512,
                 clock: Callable[[], float] | None = None) -> None:
        if rate <= 0 or slots < 1:
            raise ValueError("traffic needs rate > 0 and slots >= 1")
        self._clock = clock or time.monotonic
        self._listener = listener
        self._rng = random.Random(seed)
        self.rate, self.slots, self.prefill_tokens_per_s, self.itl_s = rate, slots, prefill_tokens_per_s, itl_s
        self.max_tokens = max_tokens
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self._lock = threading.Lock()
        self.now = self._clock()
        self._next_arrival = self.now + self._rng.expovariate(rate)

    @property
    def kv_tokens(self) -> int:
        """Tokens the running requests hold in the KV cache."""
        return sum(r.prompt_tokens + r.generated for r in self.running)

    def advance(self) -> None:
        """Run the simulation up to the clock's current reading (at most MAX_CATCH_UP_S of it)."""
        with self._lock:
            now = self._clock()
            if now - self.now > MAX_CATCH_UP_S:
                self.now = now - MAX_CATCH_UP_S
                self._next_arrival = max(self._next_arrival, self.now)
            while self.now + STEP_S <= now:
                self.now += STEP_S
                self._step(self.now)

    def _step(self, t: float) -> None:
        rng, listener = self._rng, self._listener
        while self._next_arrival <= t:
            req = Request(arrival=self._next_arrival, prompt_tokens=min(int(rng.lognormvariate(5.5, 0.8)) + 1, 4096),
                          target_tokens=rng.randint(1, self.max_tokens), streaming=rng.random() < 0.5)
            full = len(self.waiting) >= MAX_WAITING
            listener.arrived(req, full)
            if not full:
                self.waiting.append(req)
            self._next_arrival += rng.expovariate(self.rate)
        while self.waiting and len(self.running) < self.slots:
            req = self.waiting.popleft()
            req.scheduled = t
            req.prefill_done_at = t + req.prompt_tokens / self.prefill_tokens_per_s
            self.running.append(req)
        itl = self.itl_s * (1 + 0.03 * max(len(self.running) - 1, 0)) * rng.uniform(0.9, 1.1)
        for req in list(self.running):
            assert req.prefill_done_at is not None and req.scheduled is not None
            if req.prefill_done_at > t:
                continue
            if req.first_token is None:
                req.first_token = req.last_token = t
                req.generated = 1
                listener.prefilled(req, t, req.prefill_done_at - req.scheduled)
            else:
                assert req.last_token is not None
                while req.generated < req.target_tokens and req.last_token + itl <= t:
                    req.last_token += itl
                    req.generated += 1
                    listener.token(req, itl)
            if req.generated >= req.target_tokens:
                self.running.remove(req)
                listener.finished(req, t)
        listener.stepped(self, t)
