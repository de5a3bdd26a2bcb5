"""SELinux state (node_exporter's selinux collector).

``node_selinux_enabled`` (1 or 0); when enabled also ``node_selinux_current_mode`` (the selinuxfs
``enforce`` file: 1 enforcing, 0 permissive) and ``node_selinux_config_mode`` (``SELINUX=`` in
``<rootfs>/etc/selinux/config``: 1 enforcing, 0 permissive, -1 disabled; -1 when the file or line is
missing, as go-selinux answers). SELinux counts as enabled, as go-selinux decides, when selinuxfs is
mounted (``<sysfs>/fs/selinux/enforce`` exists) and this process' context
(``<procfs>/self/attr/current``) is not ``kernel``. Unlike node_exporter, which reads the live paths,
every file is read through ``--path.sysfs``, ``--path.procfs`` and ``--path.rootfs``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_attr, read_text
from .base import Collector

_MODES = {"enforcing": 1.0, "permissive": 0.0, "disabled": -1.0}


@register
class SelinuxCollector(Collector):
    """Serves node_selinux_* (see the module docstring)."""

    name = "selinux"

    def _config_mode(self) -> float:
        try:
            text = read_text(os.path.join(self.paths.rootfs, "etc", "selinux", "config"), 64 << 10)
        except OSError:
            return -1.0
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "SELINUX":
                return _MODES.get(value.strip().strip('"').lower(), -1.0)
        return -1.0

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        enforce = read_attr(self.paths.sys("fs", "selinux", "enforce"))
        context = (read_attr(self.paths.proc("self", "attr", "current")) or "").rstrip("\x00")
        enabled = enforce is not None and context not in ("", "kernel")
        out: list[Metric] = [GaugeMetricFamily("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false",
                                               value=1.0 if enabled else 0.0)]
        if enabled:
            out.append(GaugeMetricFamily("node_selinux_config_mode", "Configured SELinux enforcement mode",
                                         value=self._config_mode()))
            out.append(GaugeMetricFamily("node_selinux_current_mode", "Current SELinux enforcement mode",
                                         value=1.0 if enforce == "1" else 0.0))
        return out
