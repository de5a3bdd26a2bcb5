"""Field values read through ctypes' descriptors equal what nvidia-ml-py's own attribute access gives."""

from __future__ import annotations

from types import SimpleNamespace

import pynvml

from spark_exporter.nvml.base import decode_field_value, field_return_and_value

MEMBERS = [
    (pynvml.NVML_VALUE_TYPE_DOUBLE, "dVal", 2.5),
    (pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, "uiVal", 4_000_000_000),
    (pynvml.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG, "ullVal", 2**63 + 5),
    (pynvml.NVML_VALUE_TYPE_SIGNED_LONG_LONG, "sllVal", -7),
    (pynvml.NVML_VALUE_TYPE_SIGNED_INT, "siVal", -3),
    (pynvml.NVML_VALUE_TYPE_UNSIGNED_SHORT, "usVal", 65_000),
]


def _fv(value_type: int, member: str, value: object, ret: int = pynvml.NVML_SUCCESS) -> pynvml.c_nvmlFieldValue_t:
    fv = pynvml.c_nvmlFieldValue_t()
    fv.valueType = value_type
    setattr(fv.value, member, value)
    fv.nvmlReturn = ret
    return fv


class TestFieldReturnAndValue:
    def test_every_value_type_decodes_as_decode_field_value(self) -> None:
        """Each union member is read as the attribute path (decode_field_value) reads it."""
        for value_type, member, value in MEMBERS:
            fv = _fv(value_type, member, value)
            assert field_return_and_value(fv) == (pynvml.NVML_SUCCESS, decode_field_value(fv))
            assert field_return_and_value(fv)[1] == float(value)

    def test_an_error_return_has_no_value(self) -> None:
        """A field that answered an error gives that return code and no value."""
        fv = _fv(pynvml.NVML_VALUE_TYPE_UNSIGNED_INT, "uiVal", 9, ret=pynvml.NVML_ERROR_NOT_SUPPORTED)
        assert field_return_and_value(fv) == (pynvml.NVML_ERROR_NOT_SUPPORTED, None)

    def test_an_unknown_value_type_has_no_value(self) -> None:
        """A value type NVML does not define decodes to None rather than a guess."""
        assert field_return_and_value(_fv(99, "uiVal", 9)) == (pynvml.NVML_SUCCESS, None)

    def test_other_objects_are_read_by_attribute(self) -> None:
        """The simulator's and a replay's field values (not ctypes structs) are read by attribute."""
        fv = SimpleNamespace(nvmlReturn=pynvml.NVML_SUCCESS, valueType=pynvml.NVML_VALUE_TYPE_UNSIGNED_INT,
                             value=SimpleNamespace(uiVal=12))
        assert field_return_and_value(fv) == (pynvml.NVML_SUCCESS, 12.0)
