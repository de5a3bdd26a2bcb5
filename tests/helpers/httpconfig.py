"""Writing the query client's HTTP configuration file for a test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

USER, PASSWORD = "grafana", "correct horse battery staple"  # the basic-auth user the tests configure


def write_config(d: Path, cfg: dict[str, Any]) -> str:
    path = d / "http.yml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)
