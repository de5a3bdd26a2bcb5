"""One place where NVML calls are made and NVML errors become outcomes.

The collector never calls ``pynvml`` directly: it calls :meth:`Nvml.query` with a function name,
and the facade looks that name up on the library object it was given (the real ``pynvml`` module
or a :class:`~spark_exporter.nvml.sim.SimulatedNvml`), so real and simulated runs share one path.

Outcomes of a failed call (CONVENTIONS section 5):

* NotSupported, NoPermission, NotFound: ``None``; the sample is left out.
* FunctionNotFound (an older driver): ``None``, logged once per function.
* GpuIsLost, Uninitialized, DriverNotLoaded, LibraryNotFound, ResetRequired, Unknown,
  LibRmVersionMismatch: :class:`NvmlFatal`; the collector fails and NVML is re-initialised with backoff.
* Anything else (Timeout, InvalidArgument, ...): ``None``, logged once per (function, error).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pynvml
import structlog

log = structlog.get_logger(component="nvml")

#: Errors after which the library or a device is gone: the collector fails and re-initialises.
FATAL_CODES = frozenset({
    pynvml.NVML_ERROR_UNINITIALIZED,
    pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
    pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
    pynvml.NVML_ERROR_GPU_IS_LOST,
    pynvml.NVML_ERROR_RESET_REQUIRED,
    pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
    pynvml.NVML_ERROR_UNKNOWN,
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
    """NVML (or one GPU) is unusable until NVML is re-initialised."""

    def __init__(self, fn: str, error: BaseException) -> None:
        super().__init__(f"{fn}: {error_name(error)}")
        self.fn = fn
        self.error = error


class NvmlUnavailable(Exception):
    """NVML is not initialised (library missing, init failed); the next attempt waits for the backoff."""


def error_name(error: BaseException) -> str:
    """A stable short name for an NVML error (``NVMLError_GpuIsLost``), for logs and failure reasons."""
    return type(error).__name__ if isinstance(error, pynvml.NVMLError) else f"{type(error).__name__}: {error}"


def error_code(error: BaseException) -> int | None:
    return getattr(error, "value", None) if isinstance(error, pynvml.NVMLError) else None


def to_str(value: Any) -> str:
    """NVML strings come back as ``str`` from most calls and as ``bytes`` from struct fields."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value)


class Nvml:
    """Initialisation with backoff, and :meth:`query` with uniform error outcomes.

    ``lib`` is the ``pynvml`` module or a simulator; ``clock`` is monotonic seconds (injectable for tests).
    """

    def __init__(self, lib: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.lib = lib
        self._clock = clock
        self._lock = threading.Lock()
        self.initialized = False
        self._next_attempt = 0.0  # monotonic seconds
        self._backoff = BACKOFF_INITIAL
        self.last_error: str | None = None
        self._logged: set[tuple[str, str]] = set()

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
            self.initialized = True
            self.last_error = None
            self._backoff = BACKOFF_INITIAL

    def _failed(self, now: float, reason: str) -> None:
        # Logged when the reason changes, so a machine without NVML logs once, not every cycle.
        if reason != self.last_error:
            log.warning("nvml_init_failed", error=reason, retry_in_seconds=self._backoff)
        self.last_error = reason
        self._next_attempt = now + self._backoff
        self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def reset(self, reason: str) -> None:
        """Forget the current NVML session after a fatal error; the next init waits for the backoff."""
        with self._lock:
            if self.initialized:
                try:
                    self.lib.nvmlShutdown()
                except pynvml.NVMLError:
                    pass  # the session is already broken; shutting it down is best effort
            self.initialized = False
            if reason != self.last_error:
                log.warning("nvml_reset", error=reason, retry_in_seconds=self._backoff)
            self.last_error = reason
            self._next_attempt = self._clock() + self._backoff
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    def shutdown(self) -> None:
        with self._lock:
            if self.initialized:
                try:
                    self.lib.nvmlShutdown()
                except pynvml.NVMLError:
                    pass
            self.initialized = False

    # -- calls --------------------------------------------------------------------------------------

    def call(self, fn: str, *args: Any) -> Any:
        """Call ``fn`` and let every NVML error through as a :class:`NvmlFatal` or the original error."""
        try:
            return getattr(self.lib, fn)(*args)
        except pynvml.NVMLError as e:
            if error_code(e) in FATAL_CODES:
                raise NvmlFatal(fn, e) from None
            raise

    def query(self, fn: str, *args: Any) -> Any:
        """Call ``fn(*args)``; return its value, or ``None`` where the value is not available.

        Raises :class:`NvmlFatal` when NVML or the device is gone.
        """
        try:
            return self.call(fn, *args)
        except pynvml.NVMLError as e:
            code = error_code(e)
            if code in UNSUPPORTED_CODES:
                return None
            if code == pynvml.NVML_ERROR_FUNCTION_NOT_FOUND:
                self._log_once(fn, "nvml_function_not_found", error_name(e))
                return None
            self._log_once(fn, "nvml_call_failed", error_name(e))
            return None
        except AttributeError:
            # A pynvml too old to know the function: same outcome as FunctionNotFound.
            self._log_once(fn, "nvml_function_not_found", "missing in pynvml")
            return None

    def field_values(self, handle: Any, field_ids: list[Any]) -> list[float | None]:
        """``nvmlDeviceGetFieldValues`` decoded: one value per requested id, ``None`` where unavailable."""
        values = self.query("nvmlDeviceGetFieldValues", handle, field_ids)
        if values is None:
            return [None] * len(field_ids)
        out: list[float | None] = []
        for fv in values:
            if fv.nvmlReturn in FATAL_CODES:
                raise NvmlFatal("nvmlDeviceGetFieldValues", pynvml.NVMLError(fv.nvmlReturn))
            out.append(decode_field_value(fv) if fv.nvmlReturn == pynvml.NVML_SUCCESS else None)
        return out

    def _log_once(self, fn: str, event: str, error: str) -> None:
        key = (fn, error)
        if key not in self._logged:
            self._logged.add(key)
            log.warning(event, fn=fn, error=error)


_VALUE_MEMBERS = {
    pynvml.NVML_VALUE_TYPE_DOUBLE: "dVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
    pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal",
    pynvml.NVML_VALUE_TYPE_SIGNED_INT: "siVal",
    pynvml.NVML_VALUE_TYPE_UNSIGNED_SHORT: "usVal",
}


def decode_field_value(fv: Any) -> float | None:
    """The number in a ``c_nvmlFieldValue_t``, read from the union member its ``valueType`` names."""
    member = _VALUE_MEMBERS.get(fv.valueType)
    return None if member is None else float(getattr(fv.value, member))


def load_library(simulate: str | None, seed: int) -> Any:
    """The NVML library object: ``pynvml`` itself, or a simulator for ``profile``."""
    if not simulate:
        return pynvml
    from .sim import SimulatedNvml

    return SimulatedNvml(simulate, seed=seed)
