"""Compile node_exporter's mixin (its ``docs/node-mixin``) into the alert and recording rule files kept here.

    .venv/bin/python tests/reference/node-exporter/compile_mixin.py NODE_EXPORTER_CHECKOUT

Uses PyPI's ``jsonnet`` (the C++ implementation's bindings). Only the alerts and rules are compiled: the
dashboards need grafonnet, which this does not fetch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import _jsonnet  # PyPI: jsonnet
import yaml

HERE = Path(__file__).resolve().parent
SNIPPET = ("local m = (import 'config.libsonnet') + (import 'alerts/alerts.libsonnet') + "
           "(import 'rules/rules.libsonnet'); {alerts: m.prometheusAlerts, rules: m.prometheusRules}")


def main(checkout: str) -> int:
    mixin = Path(checkout) / "docs" / "node-mixin"
    out = json.loads(_jsonnet.evaluate_snippet("compile_mixin", SNIPPET, jpathdir=[str(mixin)]))
    for kind in ("alerts", "rules"):
        text = yaml.safe_dump(out[kind], sort_keys=False, width=1000)
        (HERE / f"node-mixin-{kind}.yml").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
