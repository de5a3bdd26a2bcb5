"""The kit's packaged assets as they are in the repository."""

from __future__ import annotations

from helpers.procs import REPO

ASSETS = {"rules": "*.yml", "dashboards": "*.json"}


def repo_assets() -> dict[str, bytes]:
    """Every rules/*.yml and dashboards/*.json of the repository, as ``KIND/NAME`` -> bytes."""
    return {f"{kind}/{p.name}": p.read_bytes() for kind, pattern in ASSETS.items()
            for p in sorted((REPO / kind).glob(pattern))}
