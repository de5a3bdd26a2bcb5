"""``spark-exporter config remote-write``: a site that scrapes locally and stores centrally in VictoriaMetrics.

From the cluster inventory it builds (:func:`remote_write_files`):

- ``vmagent.yml``: the scrape configuration of ``config prometheus`` (same jobs, same ``cluster``/``node``
  relabelling) for ``vmagent -promscrape.config``, which remote-writes every sample;
- ``prometheus-agent.yml``: the same for Prometheus in agent mode (``--enable-feature=agent``), with a
  ``remote_write`` section, for sites that run Prometheus already;
- ``rules/*.yml``: the packaged rules, evaluated centrally by vmalert (not at the site);
- ``commands.sh``: the command line of each service (vmagent or the Prometheus agent at the site; vmalert
  and ``spark-exporter api`` next to VictoriaMetrics), one per line, from :func:`commands`.

A :class:`Store` names the two VictoriaMetrics URLs: where samples are written and where queries go.
Single-node VictoriaMetrics serves both at ``http://HOST:8428``; the cluster version writes through
``vminsert`` (``http://HOST:8480/insert/<tenant>/prometheus``) and reads through ``vmselect``
(``http://HOST:8481/select/<tenant>/prometheus``). docs/fleet.md says when to use which.
"""

from __future__ import annotations

import shlex
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..settings import ConfigError
from . import kit
from .alertmanager import API_ENDPOINT_PATH
from .inventory import Inventory
from .promconfig import build_prometheus_config

DEFAULT_VM_URL = "http://127.0.0.1:8428"
DEFAULT_ALERTMANAGER_URL = "http://127.0.0.1:9093"
# VictoriaMetrics hides the newest 30 s of samples from queries by default; the API would then see every
# target as stale (older than 2 scrape intervals). 5 s leaves room for the agents' 1 s flushes.
LATENCY_OFFSET = "5s"
RETENTION = "1y"
WRITE_PATH = "/api/v1/write"  # appended to Store.write_url for Prometheus' remote_write and vmagent


class RemoteWriteError(ConfigError):
    """A setting of ``config remote-write`` is invalid (one line for the user)."""


def _check_url(url: str, what: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
            or any(c.isspace() for c in url)):
        raise RemoteWriteError(f"invalid {what} {url!r} (expected http(s)://HOST[:PORT][/PATH])")
    if "/api/v1/" in parts.path + "/":
        # The agents append WRITE_PATH and the API its query paths: an endpoint here would be doubled.
        raise RemoteWriteError(f"invalid {what} {url!r}: give VictoriaMetrics' base URL, without /api/v1/... "
                               "(http://HOST:8428, or http://HOST:8480/insert/TENANT/prometheus for vminsert)")
    return url.rstrip("/")


@dataclass(frozen=True)
class Store:
    """The central VictoriaMetrics: ``write_url`` takes samples (``WRITE_PATH`` is appended for the
    agents; vmalert takes it as is), ``read_url`` answers the Prometheus query API."""

    write_url: str = DEFAULT_VM_URL
    read_url: str = DEFAULT_VM_URL

    def checked(self) -> Store:
        """This store with both URLs validated (trailing ``/`` dropped); RemoteWriteError otherwise."""
        return Store(_check_url(self.write_url, "write URL"), _check_url(self.read_url, "read URL"))

    @property
    def remote_write_endpoint(self) -> str:
        """The URL Prometheus' ``remote_write`` and vmagent's ``-remoteWrite.url`` post to."""
        return self.write_url + WRITE_PATH


def scrape_config(inventory: Inventory, scrape_interval: str) -> dict[str, Any]:
    """The scrape-only configuration (global, scrape_configs) that vmagent reads with its strict parser."""
    config = build_prometheus_config(inventory, [], scrape_interval, scrape_interval)
    return {"global": {"scrape_interval": config["global"]["scrape_interval"],
                       "external_labels": config["global"]["external_labels"]},
            "scrape_configs": config["scrape_configs"]}


def agent_config(inventory: Inventory, store: Store, scrape_interval: str) -> dict[str, Any]:
    """prometheus.yml for Prometheus in agent mode: the scrape jobs and one ``remote_write`` to ``store``.

    Agent mode keeps no rules and sends no alerts: vmalert evaluates the rules on the central store.
    """
    config = scrape_config(inventory, scrape_interval)
    config["remote_write"] = [{"url": store.checked().remote_write_endpoint}]
    return config


def commands(output_dir: str | Path, store: Store, inventory_path: str, alertmanager_url: str,
             evaluation_interval: str) -> dict[str, list[str]]:
    """Each service's argv (without the binary's directory): ``vmagent`` and ``prometheus-agent`` (one of
    them at each site), ``victoria-metrics`` (the single-node store), ``vmalert`` and ``api`` (next to
    VictoriaMetrics). Files are named under ``output_dir``; data paths are Debian's defaults."""
    store = store.checked()
    out = PurePosixPath(Path(output_dir).absolute().as_posix())
    notifier = _check_url(alertmanager_url, "Alertmanager URL")
    if API_ENDPOINT_PATH.search(urllib.parse.urlsplit(notifier).path):  # vmalert appends /api/v2/alerts itself
        raise RemoteWriteError(f"invalid Alertmanager URL {alertmanager_url!r}: give its base URL, without "
                               "/api/v2/alerts (vmalert appends it)")
    return {
        "vmagent": ["vmagent", f"-promscrape.config={out / 'vmagent.yml'}",
                    f"-remoteWrite.url={store.remote_write_endpoint}",
                    "-remoteWrite.tmpDataPath=/var/lib/vmagent-remotewrite-data"],
        "prometheus-agent": ["prometheus", "--enable-feature=agent", f"--config.file={out / 'prometheus-agent.yml'}",
                             "--storage.agent.path=/var/lib/prometheus/agent"],
        "victoria-metrics": ["victoria-metrics", "-storageDataPath=/var/lib/victoria-metrics",
                             f"-retentionPeriod={RETENTION}", f"-search.latencyOffset={LATENCY_OFFSET}"],
        "vmalert": ["vmalert", f"-rule={out / 'rules' / '*.yml'}", f"-datasource.url={store.read_url}",
                    f"-remoteWrite.url={store.write_url}", f"-remoteRead.url={store.read_url}",
                    f"-notifier.url={notifier}", f"-evaluationInterval={evaluation_interval}"],
        "api": ["spark-exporter", "api", f"--prometheus.url={store.read_url}", f"--inventory={inventory_path}",
                f"--prometheus.scrape-interval={evaluation_interval}"],
    }


def _commands_text(argvs: dict[str, list[str]], source: str) -> str:
    lines = [
        f"# Generated by 'spark-exporter config remote-write' from {source}; regenerate, do not edit.",
        "# One line per service: run each under your service manager, not this file as a script.",
        "#",
        "# At each site, one of the two agents (vmagent, or Prometheus in agent mode):",
        shlex.join(argvs["vmagent"]),
        "# " + shlex.join(argvs["prometheus-agent"]),
        "#",
        "# The central store, single-node VictoriaMetrics (the cluster version: docs/fleet.md):",
        shlex.join(argvs["victoria-metrics"]),
        "#",
        "# Next to VictoriaMetrics: the rules (recording rules and alerts), and the JSON API and page:",
        shlex.join(argvs["vmalert"]),
        shlex.join(argvs["api"]),
    ]
    return "\n".join(lines) + "\n"


def remote_write_files(inventory: Inventory, inventory_path: str, output_dir: str | Path, store: Store,
                       alertmanager_url: str = DEFAULT_ALERTMANAGER_URL,
                       scrape_interval: str = "15s") -> dict[Path, bytes]:
    """The files ``config remote-write`` writes, by path under ``output_dir`` (see the module doc).

    Raises RemoteWriteError for a bad URL, ValueError for a bad interval, KitError when the packaged rules
    are missing.
    """
    out = Path(output_dir)
    header = (f"# Generated by 'spark-exporter config remote-write' from {inventory_path}; regenerate, "
              "do not edit.\n")
    files: dict[Path, bytes] = {}
    for name, doc in (("vmagent.yml", scrape_config(inventory, scrape_interval)),
                      ("prometheus-agent.yml", agent_config(inventory, store, scrape_interval))):
        files[out / name] = (header + yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)).encode()
    for asset in kit.assets("rules"):
        files[out / "rules" / asset.name] = asset.data
    argvs = commands(out, store, inventory_path, alertmanager_url, scrape_interval)
    files[out / "commands.sh"] = _commands_text(argvs, inventory_path).encode()
    return files


def write_remote_write(inventory: Inventory, inventory_path: str, output_dir: str | Path, store: Store,
                       alertmanager_url: str = DEFAULT_ALERTMANAGER_URL, scrape_interval: str = "15s",
                       force: bool = False) -> list[Path]:
    """Write :func:`remote_write_files` (none unless every one is new, or ``force``); returns the paths.

    Raises as :func:`remote_write_files`, and KitError for a refused overwrite or a failed write.
    """
    files = remote_write_files(inventory, inventory_path, output_dir, store, alertmanager_url, scrape_interval)
    return kit.write_files(files, force)
