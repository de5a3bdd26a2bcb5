"""Operating system identity from <rootfs>/etc/os-release (node_exporter's os collector).

``node_os_info{build_id,id,id_like,image_id,image_version,name,pretty_name,variant,variant_id,version,
version_codename,version_id}`` = 1 (missing keys are empty), ``node_os_version{id,id_like,name}`` = the
major.minor part of VERSION_ID as a number (DGX OS 7 is Ubuntu 24.04: 24.04), and, where the file has
SUPPORT_END, ``node_os_support_end_timestamp_seconds``. ``/usr/lib/os-release`` is read when
``/etc/os-release`` is absent, as os-release(5) says. The module is not named ``os`` so that it does not
shadow the standard library; the collector's name is ``os``.
"""

from __future__ import annotations

import calendar
import os
import re
import shlex
import time
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector

INFO_LABELS = (
    "build_id",
    "id",
    "id_like",
    "image_id",
    "image_version",
    "name",
    "pretty_name",
    "variant",
    "variant_id",
    "version",
    "version_codename",
    "version_id",
)
_MAJOR_MINOR = re.compile(r"^[0-9]+\.?[0-9]*")
_MAX = 64 << 10  # bytes; os-release is a few hundred


def parse_os_release(text: str) -> dict[str, str]:
    """KEY=value lines with shell quoting undone; comments, blank and malformed lines are skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw)
        except ValueError:
            continue
        out[key.strip()] = " ".join(parts)
    return out


@register
class OsCollector(Collector):
    """Serves node_os_info and node_os_version from <rootfs>/etc/os-release (see module docstring)."""

    name = "os"

    def _release(self) -> dict[str, str]:
        for rel in ("etc/os-release", "usr/lib/os-release"):
            try:
                return parse_os_release(read_text(os.path.join(self.paths.rootfs, rel), _MAX))
            except FileNotFoundError:
                continue
        raise FileNotFoundError(f"no os-release under {self.paths.rootfs}")

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        rel = self._release()
        info = GaugeMetricFamily(
            "node_os_info",
            "A metric with a constant '1' value labeled by " + ", ".join(INFO_LABELS) + ".",
            labels=list(INFO_LABELS),
        )
        info.add_metric([rel.get(k.upper(), "") for k in INFO_LABELS], 1.0)
        out: list[Metric] = [info]
        major_minor = _MAJOR_MINOR.match(rel.get("VERSION_ID", ""))
        if major_minor:
            version = GaugeMetricFamily(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                labels=["id", "id_like", "name"],
            )
            version.add_metric(
                [rel.get("ID", ""), rel.get("ID_LIKE", ""), rel.get("NAME", "")],
                float(major_minor.group(0).rstrip(".")),
            )
            out.append(version)
        if "SUPPORT_END" in rel:
            try:
                end = calendar.timegm(time.strptime(rel["SUPPORT_END"], "%Y-%m-%d"))
            except ValueError:
                self.log.debug("os_support_end_unparsable", value=rel["SUPPORT_END"])
            else:
                out.append(
                    GaugeMetricFamily(
                        "node_os_support_end_timestamp_seconds",
                        "Metric containing the end-of-life date timestamp of the OS.",
                        value=end,
                    )
                )
        return out
