"""Kernel clock discipline state from adjtimex(2) (node_exporter's timex collector).

NTP/chrony health on each node: ``node_timex_sync_status`` (1 unless the kernel reports TIME_ERROR,
i.e. the clock is unsynchronised), ``offset_seconds``, ``frequency_adjustment_ratio``,
``maxerror_seconds``, ``estimated_error_seconds``, ``status``, ``loop_time_constant``, ``tick_seconds``,
``tai_offset_seconds`` and the PPS fields. Read-only call (modes = 0) through libc with ctypes: Python
has no adjtimex binding. Offsets and jitter are in µs, or ns when STA_NANO is set; frequencies are
ppm with a 16-bit fraction. Like uname, this reads the running kernel, not ``--path.procfs``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import register
from .base import Collector

_STA_NANO = 0x2000  # linux/timex.h
_TIME_ERROR = 5
_PPM16 = 1_000_000.0 * 65536.0  # ppm with a 16-bit fractional part
_US = 1_000_000.0
_NS = 1_000_000_000.0


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class Timex(ctypes.Structure):
    """struct timex of linux/timex.h (glibc's layout on LP64 and ILP32 alike: C int and long)."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


_LIBC = ctypes.CDLL(None, use_errno=True)


def adjtimex() -> tuple[int, Timex]:
    """(clock state, struct timex) from a read-only adjtimex call. Raises OSError."""
    tx = Timex()
    state = _LIBC.adjtimex(ctypes.byref(tx))
    if state < 0:
        err = ctypes.get_errno()
        raise OSError(err, "adjtimex failed")
    return state, tx


def _g(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"node_timex_{name}", doc, value=value)


def _c(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"node_timex_{name}", doc, value=value)


@register
class TimexCollector(Collector):
    """Serves node_timex_* from the adjtimex(2) syscall (see module docstring)."""

    name = "timex"

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        state, tx = adjtimex()
        divisor = _NS if tx.status & _STA_NANO else _US
        return [
            _g("offset_seconds", "Time offset in between local system and reference clock.", tx.offset / divisor),
            _g("frequency_adjustment_ratio", "Local clock frequency adjustment.", 1 + tx.freq / _PPM16),
            _g("maxerror_seconds", "Maximum error in seconds.", tx.maxerror / _US),
            _g("estimated_error_seconds", "Estimated error in seconds.", tx.esterror / _US),
            _g("status", "Value of the status array bits.", tx.status),
            _g("loop_time_constant", "Phase-locked loop time constant.", tx.constant),
            _g("tick_seconds", "Seconds between clock ticks.", tx.tick / _US),
            _g("pps_frequency_hertz", "Pulse per second frequency.", tx.ppsfreq / _PPM16),
            _g("pps_jitter_seconds", "Pulse per second jitter.", tx.jitter / divisor),
            _g("pps_shift_seconds", "Pulse per second interval duration.", tx.shift),
            _g(
                "pps_stability_hertz",
                "Pulse per second stability, average of recent frequency changes.",
                tx.stabil / _PPM16,
            ),
            _c("pps_jitter", "Pulse per second count of jitter limit exceeded events.", tx.jitcnt),
            _c("pps_calibration", "Pulse per second count of calibration intervals.", tx.calcnt),
            _c("pps_error", "Pulse per second count of calibration errors.", tx.errcnt),
            _c("pps_stability_exceeded", "Pulse per second count of stability limit exceeded events.", tx.stbcnt),
            _g("tai_offset_seconds", "International Atomic Time (TAI) offset.", tx.tai),
            _g(
                "sync_status",
                "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
                0.0 if state == _TIME_ERROR else 1.0,
            ),
        ]
