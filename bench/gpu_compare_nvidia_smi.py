"""Compare the gpu collector against nvidia-smi on a real GPU machine (not part of the test suite).

Runs the collector once against the real NVML (no simulation), runs
``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` right after, and prints one line per GPU and
field: our value, nvidia-smi's, and whether they agree within a tolerance. Fast-moving readings
(utilisation, power, clocks) get wide tolerances. A field that nvidia-smi reports as N/A or
[Not Supported] must be absent from our output, not 0. Every DCGM field we serve is either compared or
listed in NOT_IN_NVIDIA_SMI with the reason; a served field in neither list counts as a mismatch, so a
new catalogue row cannot go unchecked. On unified memory (GB10) nvidia-smi has no memory figures and ours
come from host meminfo (docs/gpu.md), so the memory fields are reported as not compared.

GPM's profiling fields (DCGM_FI_PROF_*) are averages over an interval, so they are compared over the same
second: ``nvidia-smi dmon --gpm-metrics=IDS -d 1 -c 2`` runs while the collector takes its two GPM samples one
second apart; each GPM column (in the order of the ids asked for, after the GPU index) is compared with our
field (percent / 100, MiB/s x 1048576), with wide tolerances since the two intervals overlap but are not the
same. An nvidia-smi without ``--gpm-metrics`` (before R525) leaves them "not compared". GR_ENGINE_ACTIVE is
also checked against ``dmon -s u``'s ``sm`` column (GPU utilisation), which it may not exceed by much.
The parsing is unit-tested on sample text (tests/unit/test_gpu_compare_nvidia_smi.py).

    .venv/bin/python bench/gpu_compare_nvidia_smi.py [--json out.json]

Exit status: 0 if every field agrees, 1 otherwise, 2 if NVML or nvidia-smi is missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.gpu import GpuCollector
from spark_exporter.exporter.daemon import load_config
from spark_exporter.exporter.exposition import render
from spark_exporter.logs import setup_logging
from spark_exporter.nvml.gpm import GPM_SOURCES, MIB_PER_S

# nvidia-smi query field -> (our series, absolute tolerance, relative tolerance)
FIELDS: dict[str, tuple[str, float, float]] = {
    "utilization.gpu": ("DCGM_FI_DEV_GPU_UTIL", 20, 0),
    "utilization.memory": ("DCGM_FI_DEV_MEM_COPY_UTIL", 20, 0),
    "memory.total": ("DCGM_FI_DEV_FB_TOTAL", 1, 0),
    "memory.used": ("DCGM_FI_DEV_FB_USED", 256, 0.02),
    "memory.free": ("DCGM_FI_DEV_FB_FREE", 256, 0.02),
    "memory.reserved": ("DCGM_FI_DEV_FB_RESERVED", 1, 0),
    "temperature.gpu": ("DCGM_FI_DEV_GPU_TEMP", 3, 0),
    "temperature.memory": ("DCGM_FI_DEV_MEMORY_TEMP", 3, 0),
    "power.draw": ("DCGM_FI_DEV_POWER_USAGE", 5, 0.2),
    "power.limit": ("DCGM_FI_DEV_POWER_MGMT_LIMIT", 0.5, 0),
    "clocks.sm": ("DCGM_FI_DEV_SM_CLOCK", 50, 0.15),
    "clocks.mem": ("DCGM_FI_DEV_MEM_CLOCK", 10, 0.02),
    "ecc.errors.corrected.volatile.total": ("DCGM_FI_DEV_ECC_SBE_VOL_TOTAL", 0, 0),
    "ecc.errors.uncorrected.volatile.total": ("DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", 0, 0),
    "utilization.encoder": ("DCGM_FI_DEV_ENC_UTIL", 20, 0),
    "utilization.decoder": ("DCGM_FI_DEV_DEC_UTIL", 20, 0),
    "clocks_event_reasons.active": ("DCGM_FI_DEV_CLOCK_THROTTLE_REASONS", 0, 0),  # hex bitmask
}
#: The name of clocks_event_reasons.active on drivers before 535.
OLD_NAMES = {"clocks_event_reasons.active": "clocks_throttle_reasons.active"}
#: Served fields nvidia-smi --query-gpu cannot report, and why they are not compared.
NOT_IN_NVIDIA_SMI = {
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": "no --query-gpu field (nvidia-smi -q shows no energy counter)",
    "DCGM_FI_DEV_PCIE_TX_THROUGHPUT": "sampled over 20 ms by NVML; nvidia-smi dmon -s t shows it, not --query-gpu",
    "DCGM_FI_DEV_PCIE_RX_THROUGHPUT": "sampled over 20 ms by NVML; nvidia-smi dmon -s t shows it, not --query-gpu",
    "DCGM_FI_DEV_PCIE_REPLAY_COUNTER": "in nvidia-smi -q (Replays Since Reset), not --query-gpu",
    "DCGM_FI_DEV_XID_ERRORS": "an event, not a reading",
    "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL": "in nvidia-smi nvlink -gt d, not --query-gpu",
    "DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS": "in nvidia-smi --query-remapped-rows, not --query-gpu",
    "DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS": "in nvidia-smi --query-remapped-rows, not --query-gpu",
    "DCGM_FI_DEV_ROW_REMAP_FAILURE": "in nvidia-smi --query-remapped-rows, not --query-gpu",
}
#: GPM field -> (absolute tolerance, relative tolerance) in DCGM's unit (ratio, bytes/s).
GPM_TOLERANCE = {"ratio": (0.1, 0.0), "bytes": (64 * 1048576.0, 0.25)}
GPM_INTERVAL = 1.0  # seconds between our two GPM samples, and dmon's -d
UNIFIED_MEMORY_FIELDS = {"memory.total", "memory.used", "memory.free", "memory.reserved"}
LABEL_FIELDS = {"uuid": "UUID", "pci.bus_id": "pci_bus_id", "name": "modelName",
                "driver_version": "DCGM_FI_DRIVER_VERSION"}
MISSING = {"[N/A]", "N/A", "[Not Supported]", "Not Supported", "[Unknown Error]"}


def gpm_fields() -> dict[str, tuple[int, str]]:
    """Our GPM-backed DCGM field -> (NVML GPM metric id, "ratio" or "bytes"), in catalogue order."""
    from spark_exporter.collectors.gpu.readings import READERS
    from spark_exporter.nvml.catalogue import load_catalogue

    return {f.name: (GPM_SOURCES[f.source][0], "bytes" if GPM_SOURCES[f.source][1] == MIB_PER_S else "ratio")
            for f in load_catalogue(READERS) if f.source in GPM_SOURCES}


def ours() -> dict[str, dict[str, float | dict[str, str]]]:
    """gpu index -> {series name: value, "labels": {...}} from a real collection; GPM fields over the
    GPM_INTERVAL since a first collection (started right after nvidia-smi dmon, so both sample that second)."""
    cfg = load_config(["--gpu.pcie-interval=0"], environ={})
    c = GpuCollector(cfg, Paths())
    try:
        c.collect()
        time.sleep(GPM_INTERVAL)
        text = render(list(c.collect())).decode()
    finally:
        c.close()
    out: dict[str, dict[str, float | dict[str, str]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if "gpu" in s.labels and "UUID" in s.labels and "pid" not in s.labels and "xid" not in s.labels:
                entry = out.setdefault(s.labels["gpu"], {"labels": dict(s.labels)})
                if "memory_source" in s.labels:
                    entry["memory_source"] = {"source": s.labels["memory_source"]}
                entry[fam.name] = s.value
    return out


def smi() -> dict[str, dict[str, str]]:
    """gpu index -> {our query field name: nvidia-smi's text}; older field names are tried on refusal."""
    keys = ["index", *LABEL_FIELDS, *FIELDS]
    res = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(keys)}", "--format=csv,noheader,nounits"],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:  # an older nvidia-smi that does not know a newer field name
        old = [OLD_NAMES.get(k, k) for k in keys]
        res = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(old)}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=60, check=True)
    rows = {}
    for line in res.stdout.strip().splitlines():
        values = [v.strip() for v in line.split(",")]
        rows[values[0]] = dict(zip(keys, values, strict=True))
    return rows


def parse_dmon(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """``nvidia-smi dmon`` output -> (column names, gpu index -> that GPU's last row of values).

    The first ``#`` line names the columns (the first is the GPU index); a second ``#`` line (units) is
    skipped; each later line is one GPU's row for one interval, so the last row per GPU wins. Values stay
    text: ``-`` is dmon's "not available".
    """
    columns: list[str] = []
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            if not columns:
                columns = line.lstrip()[1:].split()
            continue
        values = line.split()
        if columns and len(values) == len(columns):
            rows[values[0]] = values
    return columns, rows


def compare_gpm(mine: dict[str, float | dict[str, str]], dmon_row: list[str] | None, order: list[str],
                util_sm: str | None) -> list[dict[str, object]]:
    """Our GPM fields against one dmon --gpm-metrics row (its columns after the index, in ``order``), and
    GR_ENGINE_ACTIVE against dmon -s u's ``sm`` (percent) as a plausibility bound."""
    results: list[dict[str, object]] = []
    fields = gpm_fields()
    for i, name in enumerate(order):
        _, kind = fields[name]
        value = mine.get(name)
        ref = dmon_row[i + 1] if dmon_row is not None and i + 1 < len(dmon_row) else None
        if ref is None:
            results.append({"field": name, "series": name, "ours": value, "nvidia_smi": None, "ok": True,
                            "note": "not compared: nvidia-smi dmon --gpm-metrics gave no column for it"})
            continue
        if ref in ("-", "N/A") or ref in MISSING:
            ok = value is None
        elif value is None:
            ok = False
        else:
            theirs = float(ref) / 100 if kind == "ratio" else float(ref) * 1048576
            abs_tol, rel_tol = GPM_TOLERANCE[kind]
            ok = abs(float(value) - theirs) <= max(abs_tol, rel_tol * abs(theirs))  # type: ignore[arg-type]
        results.append({"field": name, "series": name, "ours": value, "nvidia_smi": ref, "ok": ok,
                        "note": "dmon --gpm-metrics, same second"})
    gr = mine.get("DCGM_FI_PROF_GR_ENGINE_ACTIVE")
    if util_sm is not None and util_sm not in ("-", "N/A") and gr is not None:
        ok = float(gr) <= float(util_sm) / 100 + GPM_TOLERANCE["ratio"][0]  # type: ignore[arg-type]
        results.append({"field": "dmon -s u: sm", "series": "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "ours": gr,
                        "nvidia_smi": util_sm, "ok": ok, "note": "graphics engine active <= GPU utilisation"})
    return results


def dmon_gpm() -> tuple[subprocess.Popen[str] | None, list[str]]:
    """Start ``nvidia-smi dmon --gpm-metrics`` over the next two seconds; (process, field order) or (None, [])."""
    order = list(gpm_fields())
    ids = ",".join(str(gpm_fields()[name][0]) for name in order)
    try:
        proc = subprocess.Popen(["nvidia-smi", "dmon", f"--gpm-metrics={ids}", "-d", str(int(GPM_INTERVAL)),
                                 "-c", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError:
        return None, []
    return proc, order


def dmon_util() -> dict[str, str]:
    """gpu index -> dmon -s u's ``sm`` column (percent), one interval; empty if dmon fails."""
    res = subprocess.run(["nvidia-smi", "dmon", "-s", "u", "-c", "1"], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return {}
    columns, rows = parse_dmon(res.stdout)
    if "sm" not in columns:
        return {}
    at = columns.index("sm")
    return {gpu: row[at] for gpu, row in rows.items()}


def number(text: str) -> float:
    return float(int(text, 16)) if text.lower().startswith("0x") else float(text)


def compare(mine: dict[str, float | dict[str, str]], theirs: dict[str, str]) -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    labels = mine["labels"]
    assert isinstance(labels, dict)
    for key, label in LABEL_FIELDS.items():
        ok = labels.get(label, "").lower() == theirs[key].lower()
        results.append({"field": key, "ours": labels.get(label), "nvidia_smi": theirs[key], "ok": ok})
    unified = mine.get("memory_source") == {"source": "unified"}
    for key, (series, abs_tol, rel_tol) in FIELDS.items():
        value, ref = mine.get(series), theirs[key]
        if unified and key in UNIFIED_MEMORY_FIELDS:
            results.append({"field": key, "series": series, "ours": value, "nvidia_smi": ref, "ok": True,
                            "note": "not compared: unified memory, ours from host meminfo"})
            continue
        if ref in MISSING:
            ok = value is None
        elif value is None:
            ok = False
        else:
            ref_f = number(ref)
            ok = abs(float(value) - ref_f) <= max(abs_tol, rel_tol * abs(ref_f))  # type: ignore[arg-type]
        results.append({"field": key, "series": series, "ours": value, "nvidia_smi": ref, "ok": ok})
    compared = {series for series, _, _ in FIELDS.values()} | set(gpm_fields())
    for series in sorted(k for k in mine if k.startswith("DCGM_") and k not in compared):
        reason = NOT_IN_NVIDIA_SMI.get(series)
        results.append({"field": series, "series": series, "ours": mine[series], "nvidia_smi": None,
                        "ok": reason is not None, "note": f"not compared: {reason}" if reason
                        else "served but neither compared nor listed in NOT_IN_NVIDIA_SMI"})
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    setup_logging("warn")
    if shutil.which("nvidia-smi") is None:
        print("nvidia-smi not found: run this on a machine with an NVIDIA driver", file=sys.stderr)
        return 2
    proc, order = dmon_gpm()
    try:
        mine = ours()
    except Exception as e:  # noqa: BLE001 - report why the real NVML could not be read
        print(f"collector failed against the real NVML: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    gpm_rows: dict[str, list[str]] = {}
    if proc is not None:
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        if proc.returncode == 0:
            gpm_rows = parse_dmon(out)[1]
    util = dmon_util()
    theirs = smi()
    report = {gpu: compare(mine.get(gpu, {"labels": {}}), row)
              + compare_gpm(mine.get(gpu, {"labels": {}}), gpm_rows.get(gpu), order or list(gpm_fields()),
                            util.get(gpu))
              for gpu, row in sorted(theirs.items())}
    bad = 0
    for gpu, rows in report.items():
        for r in rows:
            bad += not r["ok"]
            print(f"gpu {gpu} {r['field']:40} ours={r['ours']!s:>40} nvidia-smi={r['nvidia_smi']!s:>40} "
                  f"{'ok' if r['ok'] else 'MISMATCH'} {r.get('note', '')}".rstrip())
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    print(f"{bad} mismatches" if bad else "all fields agree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
