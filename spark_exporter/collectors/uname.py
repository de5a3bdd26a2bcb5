"""node_uname_info{domainname,machine,nodename,release,sysname,version} (node_exporter's uname collector).

The uname(2) fields come from ``os.uname()``, as node_exporter takes them from the syscall (they are
the running kernel's, whatever ``--path.procfs`` says). Python's uname has no domainname, so that one
is read from ``<procfs>/sys/kernel/domainname`` (``(none)`` when unset, exactly as uname(2) reports).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from ._files import read_text
from .base import Collector


@register
class UnameCollector(Collector):
    name = "uname"

    def domainname(self) -> str:
        return read_text(self.paths.proc("sys", "kernel", "domainname")).strip()

    def collect(self) -> Iterable[Metric]:
        u = os.uname()
        labels = {
            "domainname": self.domainname(),
            "machine": u.machine,
            "nodename": u.nodename,
            "release": u.release,
            "sysname": u.sysname,
            "version": u.version,
        }
        fam = GaugeMetricFamily(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            labels=list(labels),
        )
        fam.add_metric(list(labels.values()), 1.0)
        yield fam
