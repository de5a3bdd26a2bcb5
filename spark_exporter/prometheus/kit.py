"""The packaged Prometheus rules and Grafana dashboards, and the writers behind ``config rules|grafana``
(whose command line is :mod:`spark_exporter.commands.config`).

The repository keeps ``rules/*.yml`` and ``dashboards/*.json`` at its top level. A wheel carries
byte-for-byte copies under ``spark_exporter/assets/`` (``setup.py`` copies them at build time) and
they are read here with :mod:`importlib.resources`. An editable install or a plain clone has no
copies, so the accessor then reads the clone's top-level directories. Either way the callers see one
list of files.

Writers never replace an existing file unless ``force`` is given, and check every target before
writing any, so a refused run leaves the output directory as it was.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from ..settings import DEFAULT_PROMETHEUS_URL

# asset kind -> file suffix; the directory name is the kind, in the wheel and in the repository.
KINDS = {"rules": ".yml", "dashboards": ".json"}
_REPO = Path(__file__).resolve().parent.parent.parent  # the clone, for editable installs
DATASOURCE_UID = "spark-exporter-prometheus"
DATASOURCE_NAME = "Prometheus (spark-exporter)"


class KitError(Exception):
    """A packaged file is missing, or a write was refused (the message is one line for the user)."""


@dataclass(frozen=True)
class Asset:
    """One packaged file (rules or dashboard): its file name and bytes, unchanged."""

    name: str  # file name, e.g. spark-alerts.yml
    data: bytes  # the file's bytes, unchanged


def asset_dir(kind: str) -> Traversable:
    """The directory holding the ``kind`` assets ("rules" or "dashboards").

    Source: ``spark_exporter/assets/<kind>/`` in an installed wheel (importlib.resources), else
    ``<clone>/<kind>/`` for an editable install. Raises KitError when neither has any file.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown asset kind {kind!r}: one of {', '.join(KINDS)}")
    packaged = resources.files("spark_exporter").joinpath("assets", kind)
    for candidate in (packaged, _REPO / kind):
        if candidate.is_dir() and any(_matches(kind, f) for f in candidate.iterdir()):
            return candidate
    raise KitError(f"no {kind} files in {packaged} or {_REPO / kind} (a broken install: reinstall spark-exporter)")


def _matches(kind: str, entry: Traversable) -> bool:
    return entry.is_file() and entry.name.endswith(KINDS[kind])


def assets(kind: str) -> list[Asset]:
    """Every packaged ``rules/*.yml`` or ``dashboards/*.json`` file, sorted by name."""
    folder = asset_dir(kind)
    return [Asset(f.name, f.read_bytes()) for f in sorted(folder.iterdir(), key=lambda e: e.name)
            if _matches(kind, f)]


def _write_all(files: dict[Path, bytes], force: bool) -> list[Path]:
    """Write every file, or none when one exists already and ``force`` is false (KitError)."""
    if not force:
        existing = [str(p) for p in files if p.exists() or p.is_symlink()]
        if existing:
            raise KitError(f"refusing to overwrite {', '.join(existing)} (use --force to replace)")
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    except OSError as e:
        raise KitError(f"cannot write {e.filename}: {e.strerror}") from None
    return list(files)


def write_files(files: dict[Path, bytes], force: bool = False) -> list[Path]:
    """Write every file of ``files`` (path -> bytes), or none when one exists and not ``force`` (KitError)."""
    return _write_all(files, force)


def write_rules(output_dir: str | Path, force: bool = False) -> list[Path]:
    """Write the rule files (``*.yml``, unchanged) into ``output_dir``; returns their paths."""
    out = Path(output_dir)
    return _write_all({out / a.name: a.data for a in assets("rules")}, force)


def check_prometheus_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host; else raise KitError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise KitError(f"invalid Prometheus URL {url!r} (expected http(s)://HOST[:PORT][/PATH])")
    return url


def grafana_files(output_dir: str | Path, prometheus_url: str) -> dict[Path, bytes]:
    """The files ``write_grafana`` writes, by path: dashboards and two provisioning files.

    ``OUT/dashboards/*.json`` (unchanged), ``OUT/provisioning/datasources/spark-exporter.yaml`` (a
    Prometheus data source at ``prometheus_url``, uid ``spark-exporter-prometheus``) and
    ``OUT/provisioning/dashboards/spark-exporter.yaml`` (a file provider reading ``OUT/dashboards``
    by absolute path). Raises KitError for a bad URL.
    """
    out = Path(output_dir).absolute()
    check_prometheus_url(prometheus_url)
    dashboards = out / "dashboards"
    files = {dashboards / a.name: a.data for a in assets("dashboards")}
    datasource = {
        "apiVersion": 1,
        "datasources": [{
            "name": DATASOURCE_NAME,
            "uid": DATASOURCE_UID,
            "type": "prometheus",
            "access": "proxy",
            "url": prometheus_url,
            # The dashboards pick their data source with a variable whose default is Grafana's
            # default data source; set this to false if another data source is already the default.
            "isDefault": True,
            "editable": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": "15s"},
        }],
    }
    provider = {
        "apiVersion": 1,
        "providers": [{
            "name": "spark-exporter",
            "folder": "DGX Spark",
            "type": "file",
            "disableDeletion": True,
            "allowUiUpdates": False,
            "updateIntervalSeconds": 60,
            "options": {"path": str(dashboards), "foldersFromFilesStructure": False},
        }],
    }
    header = "# Generated by 'spark-exporter config grafana'. Copy into Grafana's provisioning directory.\n"
    for sub, doc in (("datasources", datasource), ("dashboards", provider)):
        text = header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
        files[out / "provisioning" / sub / "spark-exporter.yaml"] = text.encode()
    return files


def write_grafana(output_dir: str | Path, prometheus_url: str = DEFAULT_PROMETHEUS_URL,
                  force: bool = False) -> list[Path]:
    """Write the dashboards and Grafana provisioning files under ``output_dir``; returns their paths."""
    return _write_all(grafana_files(output_dir, prometheus_url), force)


def write_file(path: str | Path, text: str, force: bool = False) -> Path:
    """Write ``text`` to ``path`` (e.g. a generated prometheus.yml) unless it exists and not ``force``."""
    return _write_all({Path(path): text.encode()}, force)[0]
