"""NVML primitives the rest of ``nvml/`` shares, with no imports of its own modules: the identity of a
device handle and the decoding of a field value. Every other module of the package may import this one.
"""

from __future__ import annotations

import ctypes
from typing import Any

import pynvml

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


def handle_key(handle: Any) -> Any:
    """A hashable identity for a device handle: the pointer value of a ``c_nvmlDevice_t``, or the
    handle itself (simulated handles are hashable)."""
    if isinstance(handle, ctypes._Pointer):
        return ctypes.cast(handle, ctypes.c_void_p).value
    return handle
