"""structlog set-up: logfmt or JSON lines on stderr, filtered by level."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    """Configure structlog to stderr: logfmt or JSON (``fmt``), ISO UTC ``ts``, events below ``level`` dropped."""
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
    else:
        # bool_as_flag=False: "basic_auth=true", not a bare "basic_auth" next to "tls=false".
        renderer = structlog.processors.LogfmtRenderer(key_order=["ts", "level", "event"], drop_missing=True,
                                                       bool_as_flag=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # aiohttp and asyncio log through stdlib logging; keep them at warning and on stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="level=%(levelname)s logger=%(name)s msg=%(message)r")


class RateLimitedLog:
    """One warning per ``interval`` seconds for an event a stranger can trigger; the rest are counted and
    the next line written carries ``suppressed=<count>``."""

    def __init__(self, logger: Any, event: str, interval: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.event = event
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")
        self.suppressed = 0

    def __call__(self, **kw: Any) -> None:
        now = self.clock()
        if now - self._last < self.interval:
            self.suppressed += 1
            return
        self._last = now
        self.logger.warning(self.event, suppressed=self.suppressed, **kw)
        self.suppressed = 0
