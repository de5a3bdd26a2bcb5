"""``spark-exporter config alertmanager``: an Alertmanager configuration for the alerts in ``rules/``.

The alerts of ``rules/*.yml`` carry ``cluster`` and ``node`` (every expression aggregates ``by (cluster,
node, ...)``), GPU alerts ``gpu`` and ``UUID`` as well, and a ``severity`` label (critical, warning,
info). The configuration built here, for Alertmanager 0.22 or later (``matchers`` syntax):

- groups notifications by ``cluster`` and ``node``, so one node's problems arrive as one message;
- routes ``severity="critical"`` to the ``page`` receiver, ``warning`` and ``info`` to ``notify``;
- inhibits: a node whose spark-exporter is down (``SparkExporterDown``) silences every other alert of
  that node; a lost GPU (``SparkGPULost``) silences that GPU's temperature, throttle and slowdown
  alerts and its node's ``SparkGPUMetricsMissing``; a critical alert silences its warning twin
  (temperature, memory, filesystem);
- sends both receivers to a webhook (``send_resolved: true``), an example for users to replace with
  their own (email, Slack, PagerDuty: Alertmanager's receiver documentation).

docs/alerts.md describes the routing and every alert. Prometheus finds the Alertmanager through the
``alerting:`` section that :func:`alerting_section` builds (``config prometheus --alertmanager.url``).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import yaml

from ..settings import ConfigError, format_duration
from .inventory import check_address

GROUP_BY = ("cluster", "node")
PAGE = "page"  # receiver for severity="critical"
NOTIFY = "notify"  # receiver for severity="warning" and "info"
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:5001/"
# A path that names Alertmanager's API (/api, /api/v2, /api/v2/alerts) rather than a prefix in front of it.
API_ENDPOINT_PATH = re.compile(r"/api(/v[12](/alerts)?)?/?$")  # the example receiver of Alertmanager's documentation

#: The alert that says a node is gone (its spark-exporter cannot be scraped); it silences the rest.
NODE_DOWN_ALERT = "SparkExporterDown"
#: The alert for a GPU that answers GpuIsLost or ResetRequired.
GPU_LOST_ALERT = "SparkGPULost"
#: Alerts of one GPU that a lost GPU explains (equal cluster, node, gpu).
GPU_LOST_SILENCES = ("SparkGPUTemperatureHigh", "SparkGPUTemperatureCritical", "SparkGPUThermalThrottling",
                     "SparkGPUHardwareSlowdown", "SparkGPUPowerCapped")
#: Alerts of one node that a lost GPU on it explains (equal cluster, node).
GPU_LOST_SILENCES_NODE = ("SparkGPUMetricsMissing",)
#: (critical alert, the warning it makes redundant, labels that must be equal).
CRITICAL_OVER_WARNING = (
    ("SparkGPUTemperatureCritical", "SparkGPUTemperatureHigh", ("cluster", "node", "gpu")),
    ("SparkHostMemoryCritical", "SparkHostMemoryLow", ("cluster", "node")),
    ("SparkFilesystemAlmostFull", "SparkFilesystemFillingUp", ("cluster", "node", "mountpoint")),
)


class AlertmanagerConfigError(ConfigError):
    """A setting of ``config alertmanager`` or ``--alertmanager.url`` is invalid (one line for the user)."""


@dataclass(frozen=True)
class Timing:
    """Alertmanager's notification timing, in seconds (its defaults are 30s, 5m, 4h, 5m)."""

    group_wait: float = 30.0  # wait before the first notification of a new group
    group_interval: float = 300.0  # wait before notifying a group of new or resolved alerts
    repeat_interval: float = 4 * 3600.0  # resend a still-firing group after this long
    resolve_timeout: float = 300.0  # alerts without an end time resolve after this long

    def check(self) -> Timing:
        """Return self when every duration is positive; else raise AlertmanagerConfigError."""
        for name, value in vars(self).items():
            if not value > 0:
                raise AlertmanagerConfigError(f"{name.replace('_', '-')} must be greater than zero")
        return self


def check_webhook_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL with a host and no spaces; else raise
    AlertmanagerConfigError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise AlertmanagerConfigError(f"invalid webhook URL {url!r} (expected http(s)://HOST[:PORT][/PATH])")
    return url


def _matcher(name: str, op: str, value: str) -> str:
    # Alertmanager's matcher syntax: a double-quoted value with \ and " escaped, like PromQL.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}{op}"{escaped}"'


def _one_of(names: tuple[str, ...]) -> str:
    # Alert names are [A-Za-z0-9]: no regex metacharacters to escape.
    return _matcher("alertname", "=~", "|".join(names))


def inhibit_rules() -> list[dict[str, Any]]:
    """The ``inhibit_rules`` list: node down, GPU lost, critical over warning (see the module doc)."""
    rules: list[dict[str, Any]] = [
        {"source_matchers": [_matcher("alertname", "=", NODE_DOWN_ALERT)],
         "target_matchers": [_matcher("alertname", "!=", NODE_DOWN_ALERT)],
         "equal": list(GROUP_BY)},
        {"source_matchers": [_matcher("alertname", "=", GPU_LOST_ALERT)],
         "target_matchers": [_one_of(GPU_LOST_SILENCES)],
         "equal": ["cluster", "node", "gpu"]},
        {"source_matchers": [_matcher("alertname", "=", GPU_LOST_ALERT)],
         "target_matchers": [_one_of(GPU_LOST_SILENCES_NODE)],
         "equal": ["cluster", "node"]},
    ]
    for critical, warning, equal in CRITICAL_OVER_WARNING:
        rules.append({"source_matchers": [_matcher("alertname", "=", critical)],
                      "target_matchers": [_matcher("alertname", "=", warning)],
                      "equal": list(equal)})
    return rules


def inhibited_alert_names() -> set[str]:
    """Every alert name the inhibition rules name explicitly (sources and targets), for tests and docs."""
    names = {NODE_DOWN_ALERT, GPU_LOST_ALERT, *GPU_LOST_SILENCES, *GPU_LOST_SILENCES_NODE}
    for critical, warning, _ in CRITICAL_OVER_WARNING:
        names |= {critical, warning}
    return names


def build_alertmanager_config(webhook_url: str = DEFAULT_WEBHOOK_URL, page_webhook_url: str | None = None,
                              timing: Timing | None = None) -> dict[str, Any]:
    """The ``alertmanager.yml`` document, as a dict ready for ``yaml.safe_dump``.

    ``webhook_url`` receives the ``notify`` notifications, ``page_webhook_url`` (default: the same URL)
    the ``page`` ones. Raises AlertmanagerConfigError for a bad URL or a duration that is not positive.
    """
    timing = (timing or Timing()).check()
    notify_url = check_webhook_url(webhook_url)
    page_url = check_webhook_url(page_webhook_url or webhook_url)
    return {
        "global": {"resolve_timeout": format_duration(timing.resolve_timeout)},
        "route": {
            "receiver": NOTIFY,  # anything without a known severity
            "group_by": list(GROUP_BY),
            "group_wait": format_duration(timing.group_wait),
            "group_interval": format_duration(timing.group_interval),
            "repeat_interval": format_duration(timing.repeat_interval),
            "routes": [
                {"receiver": PAGE, "matchers": [_matcher("severity", "=", "critical")]},
                {"receiver": NOTIFY, "matchers": [_matcher("severity", "=~", "warning|info")]},
            ],
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": [
            # Replace the webhooks with the receivers of your team (email_configs, slack_configs,
            # pagerduty_configs, ...): https://prometheus.io/docs/alerting/latest/configuration/#receiver
            {"name": PAGE, "webhook_configs": [{"url": page_url, "send_resolved": True}]},
            {"name": NOTIFY, "webhook_configs": [{"url": notify_url, "send_resolved": True}]},
        ],
    }


def render_alertmanager_config(config: dict[str, Any]) -> str:
    """``config`` as alertmanager.yml text, under a header saying how to check it."""
    header = ("# Generated by 'spark-exporter config alertmanager'. Replace the example webhook receivers\n"
              "# with your own; check with: amtool check-config alertmanager.yml\n")
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def alerting_section(urls: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Prometheus' ``alerting:`` section sending to the Alertmanagers at ``urls`` (``http(s)://HOST:PORT[/PREFIX]``).

    One ``alertmanagers`` entry per URL, so every member of an Alertmanager cluster gets every alert.
    Raises AlertmanagerConfigError for a URL that is not http(s) with a host and a port, or that carries
    a query, a fragment or credentials.
    """
    entries = []
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        bad = (parts.scheme not in ("http", "https") or parts.query or parts.fragment or "@" in parts.netloc
               or any(c.isspace() for c in url))
        try:
            if bad:
                raise ValueError("")
            if API_ENDPOINT_PATH.search(parts.path):
                # Prometheus appends /api/v2/alerts to the prefix: an endpoint here would be doubled.
                raise ValueError("the path is a prefix for Alertmanager's own /api/v2/alerts, not its endpoint")
            address = check_address(parts.netloc)
        except ValueError as e:
            detail = f": {e}" if str(e) else ""
            raise AlertmanagerConfigError(
                f"invalid Alertmanager URL {url!r} (expected http(s)://HOST:PORT[/PREFIX]){detail}") from None
        entry: dict[str, Any] = {"scheme": parts.scheme, "static_configs": [{"targets": [address]}]}
        if parts.path.strip("/"):
            entry["path_prefix"] = parts.path
        entries.append(entry)
    return {"alertmanagers": entries}
