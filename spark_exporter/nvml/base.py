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


_FIELD_VALUE = pynvml.c_nvmlFieldValue_t
_plain_get = object.__getattribute__


def field_return_and_value(fv: Any) -> tuple[int, float | None]:
    """``(nvmlReturn, decoded value)`` of one field value; the value is ``None`` unless the return is
    NVML_SUCCESS and the type is known.

    nvidia-ml-py's structures resolve every attribute through a Python ``__getattribute__`` that turns bytes
    into str; a field value's members are all numbers, so for the real ``c_nvmlFieldValue_t`` they are read
    through ctypes' own descriptors (the same values, a third of the cost: an nvlink total reads 36 of them
    per GPU). Anything else (the simulator's or a replay's objects) is read as usual.
    """
    if type(fv) is _FIELD_VALUE:
        ret = _plain_get(fv, "nvmlReturn")
        if ret != pynvml.NVML_SUCCESS:
            return ret, None
        member = _VALUE_MEMBERS.get(_plain_get(fv, "valueType"))
        return ret, None if member is None else float(getattr(_plain_get(fv, "value"), member))
    ret = fv.nvmlReturn
    return ret, (decode_field_value(fv) if ret == pynvml.NVML_SUCCESS else None)


def handle_key(handle: Any) -> Any:
    """A hashable identity for a device handle: the pointer value of a ``c_nvmlDevice_t``, or the
    handle itself (simulated handles are hashable)."""
    if isinstance(handle, ctypes._Pointer):
        return ctypes.cast(handle, ctypes.c_void_p).value
    return handle
