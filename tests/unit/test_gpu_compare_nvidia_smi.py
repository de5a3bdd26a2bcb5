"""The parsing and comparison of bench/gpu_compare_nvidia_smi.py, on sample text (no GPU needed).

The samples follow ``nvidia-smi dmon``'s layout (a ``#`` header of column names, a ``#`` line of units, one
row per GPU and interval, ``-`` for not available); they are written for this test, not captured from a GPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import gpu_compare_nvidia_smi as cmp  # noqa: E402

ORDER = list(cmp.gpm_fields())
# Two intervals of two GPUs; GPU 1 has no PCIe/NVLink GPM metrics ("-").
GPM_HEADER = "# gpu " + " ".join(f"m{cmp.gpm_fields()[n][0]}" for n in ORDER)
GPM_UNITS = "# Idx " + " ".join("%" if cmp.gpm_fields()[n][1] == "ratio" else "MiB/s" for n in ORDER)


def row(gpu: int, percent: float, mib: str) -> str:
    return f"    {gpu} " + " ".join(f"{percent:.0f}" if cmp.gpm_fields()[n][1] == "ratio" else mib for n in ORDER)


DMON_GPM = "\n".join([GPM_HEADER, GPM_UNITS, row(0, 10, "100"), row(1, 5, "-"), row(0, 40, "2048"),
                      row(1, 20, "-")]) + "\n"
DMON_UTIL = """# gpu     sm    mem    enc    dec    jpg    ofa
# Idx      %      %      %      %      %      %
    0     45     12      0      0      0      0
    1     21      3      0      0      -      -
"""


def ours(percent: float, mib: float | None) -> dict[str, object]:
    out: dict[str, object] = {"labels": {}}
    for name in ORDER:
        if cmp.gpm_fields()[name][1] == "ratio":
            out[name] = percent / 100
        elif mib is not None:
            out[name] = mib * 1048576
    return out


class TestParseDmon:
    def test_last_row_per_gpu_and_the_column_names(self) -> None:
        """The header names the columns; each GPU's last interval is kept; the units line is skipped."""
        columns, rows = cmp.parse_dmon(DMON_GPM)
        assert columns[0] == "gpu" and len(columns) == len(ORDER) + 1
        assert set(rows) == {"0", "1"}
        assert rows["0"][1] == "40" and rows["1"][-1] == "-"

    def test_util_sm_column(self) -> None:
        """dmon -s u's sm column is found by name."""
        columns, rows = cmp.parse_dmon(DMON_UTIL)
        assert rows["1"][columns.index("sm")] == "21"

    def test_garbage_and_ragged_lines_are_ignored(self) -> None:
        """A line of another width (a warning, a cut-off row) is not a row."""
        _, rows = cmp.parse_dmon(DMON_UTIL + "Failed to read something\n    2 7\n")
        assert set(rows) == {"0", "1"}


class TestCompareGpm:
    def test_agreeing_values_and_missing_ones_are_ok(self) -> None:
        """Within tolerance agrees; '-' in dmon agrees only with a field we leave out."""
        _, rows = cmp.parse_dmon(DMON_GPM)
        r0 = cmp.compare_gpm(ours(42, 2000), rows["0"], ORDER, "45")
        r1 = cmp.compare_gpm(ours(20, None), rows["1"], ORDER, "21")
        assert all(r["ok"] for r in r0 + r1)
        assert len(r0) == len(ORDER) + 1  # + the GR_ENGINE_ACTIVE <= utilisation bound

    @pytest.mark.parametrize("percent, mib", [(70, 2048), (40, 9000)])
    def test_disagreement_is_a_mismatch(self, percent: float, mib: float) -> None:
        """A ratio 0.3 off, or bytes 4x off, is a mismatch."""
        _, rows = cmp.parse_dmon(DMON_GPM)
        results = cmp.compare_gpm(ours(percent, mib), rows["0"], ORDER, None)
        assert not all(r["ok"] for r in results)

    def test_zero_served_where_dmon_has_none_is_a_mismatch(self) -> None:
        """Serving 0 where nvidia-smi says not available is wrong ("never 0 for unknown")."""
        _, rows = cmp.parse_dmon(DMON_GPM)
        results = cmp.compare_gpm(ours(20, 0), rows["1"], ORDER, None)
        bad = {r["field"] for r in results if not r["ok"]}
        assert bad == {n for n in ORDER if cmp.gpm_fields()[n][1] == "bytes"}

    def test_no_gpm_metrics_in_nvidia_smi_leaves_them_not_compared(self) -> None:
        """An nvidia-smi without --gpm-metrics: each field is listed as not compared, none fails."""
        results = cmp.compare_gpm(ours(20, 10), None, ORDER, None)
        assert len(results) == len(ORDER) and all(r["ok"] for r in results)
        assert all("not compared" in str(r["note"]) for r in results)

    def test_graphics_engine_busier_than_utilisation_is_a_mismatch(self) -> None:
        """GR_ENGINE_ACTIVE well above dmon -s u's sm (GPU utilisation) cannot be right."""
        results = cmp.compare_gpm(ours(90, 10), None, ORDER, "30")
        assert [r["ok"] for r in results if r["field"] == "dmon -s u: sm"] == [False]
