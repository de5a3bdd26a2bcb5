"""One place where NVML calls are made and NVML errors become outcomes.

The collector never calls ``pynvml`` directly: it calls :meth:`Nvml.query` with a function name,
and the facade looks that name up on the library object it was given (the real ``pynvml`` module,
the simulator or a replayed recording), so every source shares one path.

Outcomes of a failed call (the table in docs/gpu.md):

* NotSupported, NoPermission, NotFound: ``None``; the sample is left out, silently.
* FunctionNotFound, nvidia-ml-py's ``NVMLLibraryMismatchError``, or a name the installed nvidia-ml-py
  does not have: :class:`FunctionMissing` from :meth:`Nvml.call`; ``None`` from :meth:`Nvml.query`
  (logged once); :meth:`Nvml.query_chain` tries the next older variant.
* GpuIsLost, ResetRequired: :class:`GpuLost`; that GPU alone is taken out until re-discovery.
* Uninitialized, DriverNotLoaded, LibraryNotFound, LibRmVersionMismatch: :class:`NvmlFatal`; the
  library itself is gone, the collection fails and NVML is re-initialised with a doubling backoff.
  If the same call answers the same library error again right after a re-initialisation that
  succeeded, the library is evidently there: that call is demoted to a per-call failure
  (``None``) instead of re-initialising on every cycle.
* Anything else (Unknown, Timeout, InvalidArgument, ...): ``None``, logged once per (function, error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pynvml
import structlog

from .base import field_return_and_value

log = structlog.get_logger(component="nvml")

#: Errors meaning the library itself is gone: re-initialise NVML (with backoff).
LIBRARY_CODES = frozenset({
    pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
})
#: Errors scoped to one GPU: that GPU is taken out until a re-discovery finds it again.
GPU_CODES = frozenset({
    pynvml.NVML_ERROR_GPU_IS_LOST,
    pynvml.NVML_ERROR_RESET_REQUIRED,
})
#: Errors that mean "this device does not offer this value": left out, never 0.
UNSUPPORTED_CODES = frozenset({
    pynvml.NVML_ERROR_NOT_SUPPORTED,
    pynvml.NVML_ERROR_NO_PERMISSION,
    pynvml.NVML_ERROR_NOT_FOUND,
})

BACKOFF_INITIAL = 1.0  # seconds before the first re-initialisation attempt
BACKOFF_MAX = 60.0  # seconds; the cap of the doubling backoff


class NvmlFatal(Exception):
    """The NVML library is unusable until it is re-initialised (library missing, driver unloaded, ...)."""

    def __init__(self, fn: str, error: BaseException) -> None:
        super().__init__(f"{fn}: {error_name(error)}")
        self.fn = fn
        self.error = error


class GpuLost(Exception):
    """One GPU answered GpuIsLost or ResetRequired: it is out until a re-discovery finds it."""

    def __init__(self, fn: str, error: BaseException) -> None:
        super().__init__(f"{fn}: {error_name(error)}")
        self.fn = fn
        self.error = error


class FunctionMissing(Exception):
    """The driver (or the installed nvidia-ml-py) has no such function: try an older variant."""

    def __init__(self, fn: str, reason: str) -> None:
        super().__init__(f"{fn}: {reason}")
        self.fn = fn
        self.reason = reason


class NvmlUnavailable(Exception):
    """NVML is not initialised (library missing, init failed); the next attempt waits for the backoff."""


def error_name(error: BaseException) -> str:
    """A stable short name for an NVML error (``NVMLError_GpuIsLost``), for logs and failure reasons."""
    return type(error).__name__ if isinstance(error, pynvml.NVMLError) else f"{type(error).__name__}: {error}"


def error_code(error: BaseException) -> int | None:
    """The NVML return code of an NVMLError, or None for any other exception."""
    return getattr(error, "value", None) if isinstance(error, pynvml.NVMLError) else None


def to_str(value: Any) -> str:
    """NVML strings come back as ``str`` from most calls and as ``bytes`` from struct fields."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value)


class Nvml:
    """Initialisation with backoff, and :meth:`query` with per-call and per-GPU outcomes.

    ``lib`` is the ``pynvml`` module, a simulator or a replayer; ``clock`` is monotonic seconds
    (injectable for tests).
    """

    def __init__(self, lib: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.lib = lib
        self._clock = clock
        self._lock = threading.Lock()
        self.initialized = False
        self._next_attempt = 0.0  # monotonic seconds
        self._backoff = BACKOFF_INITIAL
        self.last_error: str | None = None
        self.reinitialisations = 0  # successful nvmlInit calls after a reset
        self._logged: set[tuple[str, str]] = set()
        self._reset_by: tuple[str, int | None] | None = None  # (fn, code) that caused the last reset
        self._fresh = False  # initialised after a reset, no clean collection since
        self._demoted: set[tuple[str, int | None]] = set()
        self._chains: dict[tuple[str, ...], str] = {}  # variant chain -> the first variant that exists

    # -- life cycle ---------------------------------------------------------------------------------

    def ensure_initialized(self) -> None:
        """Initialise NVML if needed; raise :class:`NvmlUnavailable` while it cannot be, without retrying
        before the backoff has elapsed."""
        with self._lock:
            if self.initialized:
                return
            now = self._clock()
            if now < self._next_attempt:
                raise NvmlUnavailable(f"NVML unavailable: {self.last_error}")
            try:
                self.lib.nvmlInit()
            except pynvml.NVMLError as e:
                self._failed(now, error_name(e))
                raise NvmlUnavailable(f"NVML unavailable: {self.last_error}") from None
            except OSError as e:  # a broken libnvidia-ml.so can fail to load below pynvml's checks
                self._failed(now, f"{type(e).__name__}: {e}")
                raise NvmlUnavailable(f"NVML unavailable: {self.last_error}") from None
            if self.last_error is not None:
                log.info("nvml_initialized", after_error=self.last_error)
                self.reinitialisations += 1
                self._fresh = self._reset_by is not None
            self.initialized = True
            self.last_error = None

    def healthy(self) -> None:
        """A collection finished without a library-wide error: the backoff starts over."""
        with self._lock:
            self._backoff = BACKOFF_INITIAL
            self._fresh = False
            self._reset_by = None

    def _failed(self, now: float, reason: str) -> None:
        # Logged when the reason changes, so a machine without NVML logs once, not every cycle.
        if reason != self.last_error:
            log.warning("nvml_init_failed", error=reason, retry_in_seconds=self._backoff)
        self.last_error = reason
        self._next_attempt = now + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def reset(self, cause: NvmlFatal) -> None:
        """Forget the current NVML session after a library-wide error; the next init waits for the backoff."""
        reason = str(cause)
        with self._lock:
            if self.initialized:
                try:
                    self.lib.nvmlShutdown()
                except pynvml.NVMLError:
                    pass  # the session is already broken; shutting it down is best effort
            self.initialized = False
            self._chains.clear()  # the driver may have changed: look the variants up again
            self._reset_by = (cause.fn, error_code(cause.error))
            if reason != self.last_error:
                log.warning("nvml_reset", error=reason, retry_in_seconds=self._backoff)
            self.last_error = reason
            self._next_attempt = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def shutdown(self) -> None:
        """Call nvmlShutdown once if initialised (its NVMLError ignored) and mark NVML uninitialised."""
        with self._lock:
            if self.initialized:
                try:
                    self.lib.nvmlShutdown()
                except pynvml.NVMLError:
                    pass
            self.initialized = False

    # -- calls --------------------------------------------------------------------------------------

    def call(self, fn: str, *args: Any) -> Any:
        """Call ``fn(*args)``; library-wide and GPU-scoped errors and missing functions become
        :class:`NvmlFatal`, :class:`GpuLost` and :class:`FunctionMissing`; other NVML errors pass through.
        """
        # Looked up first and called outside this handler: an AttributeError raised inside the
        # binding (a bug, a malformed struct) is an error, not a missing function.
        try:
            func = getattr(self.lib, fn)
        except AttributeError:
            raise FunctionMissing(fn, "not in nvidia-ml-py") from None
        try:
            return func(*args)
        except pynvml.NVMLLibraryMismatchError:
            raise FunctionMissing(fn, "NVMLLibraryMismatchError") from None
        except pynvml.NVMLError as e:
            code = error_code(e)
            if code == pynvml.NVML_ERROR_FUNCTION_NOT_FOUND:
                raise FunctionMissing(fn, error_name(e)) from None
            if code in GPU_CODES:
                raise GpuLost(fn, e) from None
            if code in LIBRARY_CODES:
                if (fn, code) in self._demoted:
                    raise
                if self._fresh and self._reset_by == (fn, code):
                    # nvmlInit just worked, and this one call fails as before: the library is there.
                    self._demoted.add((fn, code))
                    log.warning("nvml_error_persists_after_reinit", fn=fn, error=error_name(e))
                    raise
                raise NvmlFatal(fn, e) from None
            raise

    def query(self, fn: str, *args: Any) -> Any:
        """Call ``fn(*args)``; return its value, or ``None`` where the value is not available.

        Raises :class:`NvmlFatal` when the library is gone and :class:`GpuLost` when the GPU is.
        """
        try:
            return self.call(fn, *args)
        except FunctionMissing as e:
            self._log_once(fn, "nvml_function_not_found", e.reason)
            return None
        except pynvml.NVMLError as e:
            if error_code(e) not in UNSUPPORTED_CODES:
                self._log_once(fn, "nvml_call_failed", error_name(e))
            return None

    def query_chain(self, fns: Sequence[str], *args: Any) -> Any:
        """The first variant in ``fns`` (newest first) that the driver has, called with ``args``.

        The variant found is remembered, so a missing one costs one lookup, not one per cycle.
        ``None`` if none exists or the one that exists gives no value.
        """
        key = tuple(fns)
        known = self._chains.get(key)
        for fn in [known] if known else fns:
            try:
                value = self.call(fn, *args)
            except FunctionMissing as e:
                self._log_once(fn, "nvml_function_not_found", e.reason)
                continue
            except pynvml.NVMLError as e:
                self._chains[key] = fn
                if error_code(e) not in UNSUPPORTED_CODES:
                    self._log_once(fn, "nvml_call_failed", error_name(e))
                return None
            self._chains[key] = fn
            return value
        return None

    def field_values(self, handle: Any, field_ids: list[Any]) -> list[float | None]:
        """``nvmlDeviceGetFieldValues`` decoded: one value per requested id, ``None`` where unavailable."""
        values = self.query("nvmlDeviceGetFieldValues", handle, field_ids)
        if values is None:
            return [None] * len(field_ids)
        out: list[float | None] = []
        for fv in values:
            ret, value = field_return_and_value(fv)
            if ret in GPU_CODES:
                raise GpuLost("nvmlDeviceGetFieldValues", pynvml.NVMLError(ret))
            out.append(value)
        return out

    def _log_once(self, fn: str, event: str, error: str) -> None:
        key = (fn, error)
        if key not in self._logged:
            self._logged.add(key)
            log.warning(event, fn=fn, error=error)
