"""``spark-exporter gpu record --output FILE``: every NVML call the gpu collector makes, once, as JSON.

The recorder runs one collection of the gpu collector (and one PCIe sample) with the NVML library
wrapped so that each call's arguments and answer (value or NVML error name and code) are written down,
together with the driver version and the GPU models. Any exporter flag may follow, e.g.
``--gpu.simulate=gb10`` records the simulator. ``--gpu.replay=FILE`` serves the result through the
same code path (see docs/gpu.md for sending a recording from real hardware as a test profile).
Exit status 0, 1 (NVML unavailable, cannot write FILE) or 2 (bad settings).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..collectors.base import Paths
from ..collectors.gpu.record import record_library
from ..exporter.daemon import exporter_schema
from ..logs import setup_logging
from ..nvml.facade import NvmlFatal, NvmlUnavailable
from ..nvml.library import load_library
from ..settings import ExporterConfig, Schema, Settings
from ..settings.parser import Parser
from .runner import PROG, Command, fail, run

NAME = "gpu"


def build_parser() -> Parser:
    """The ``gpu`` parser: ``record`` with ``--output`` and every exporter setting."""
    parser = Parser(prog=f"{PROG} {NAME}", description="GPU tools. 'record' writes every NVML answer the gpu "
                    "collector uses as JSON; exporter flags (e.g. --gpu.simulate=gb10) may follow.")
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="Record every NVML call the gpu collector makes, once, as JSON.",
                         description="Call every NVML function the gpu collector uses, on every GPU, once, and "
                         "write each answer (value or error name) as JSON with the driver version and models; "
                         "'--gpu.replay=FILE' serves such a recording. Exporter flags (e.g. --gpu.simulate=gb10) "
                         "may follow.",
                         epilog="Every exporter setting (flags, SPARK_EXPORTER_* environment, --config.file) "
                         f"applies, as for '{PROG} --help-all'; --check-config prints them and records nothing.",
                         common=("output", "gpu.simulate", "gpu.replay", "gpu.seed"))
    rec.set_defaults(prog=rec.prog)
    rec.add_argument("--output", required=True, metavar="FILE", help="Where to write the recording ('-': stdout).")
    exporter_schema().add_arguments(rec, grouped=True)
    return parser


def record(cfg: ExporterConfig) -> dict[str, Any]:
    """One collection of the gpu collector, configured by the exporter settings ``cfg``, over a
    recording library; the recording (see :func:`record_library`). Raises NvmlUnavailable/NvmlFatal.
    """
    lib = load_library(cfg["gpu.simulate"], cfg["gpu.seed"], cfg["gpu.replay"])
    source = (f"simulate:{cfg['gpu.simulate']}:seed={cfg['gpu.seed']}" if cfg["gpu.simulate"]
              else f"replay:{cfg['gpu.replay']}" if cfg["gpu.replay"] else "nvml")
    return record_library(cfg, Paths.from_config(cfg), lib, source)


@dataclass
class _Record:
    output: str
    cfg: ExporterConfig
    prog: str


def _schema(ns: argparse.Namespace) -> Schema:
    return exporter_schema()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> _Record:
    assert isinstance(cfg, ExporterConfig)
    return _Record(ns.output, cfg, ns.prog)


def _describe(ns: argparse.Namespace, cfg: Settings) -> list[str]:
    return [f"output={ns.output}  # flag", *cfg.describe()]


def _execute(r: _Record) -> int:
    setup_logging("warn")  # on stderr: stdout may carry the recording ("--output -")
    try:
        data = record(r.cfg)
    except (NvmlUnavailable, NvmlFatal) as e:
        return fail(r.prog, f"NVML: {e}")
    text = json.dumps(data, indent=1, sort_keys=False) + "\n"
    if r.output == "-":
        sys.stdout.write(text)
        return 0
    try:
        tmp = f"{r.output}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, r.output)
    except OSError as e:
        return fail(r.prog, f"cannot write {r.output}: {e.strerror or e}")
    print(f"recorded {len(data['calls'])} NVML calls on {len(set(data['models']))} model(s), driver "
          f"{data['driver']}, to {r.output}", file=sys.stderr)
    return 0


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute, _describe)


def main(argv: Sequence[str]) -> int:
    """``spark-exporter gpu record --output FILE [exporter flags]``: exit status 0, 1 or 2."""
    return run(COMMAND, argv)
