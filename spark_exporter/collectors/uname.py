"""node_uname_info{domainname,machine,nodename,release,sysname,version} (node_exporter's uname collector).

Every field comes from the running kernel, as node_exporter takes all of them from the uname(2)
syscall whatever ``--path.procfs`` says: ``os.uname()`` for five of them and libc's getdomainname(2)
for the NIS domain (``(none)`` when unset, exactly as uname(2) reports), which Python's uname lacks.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from . import register
from .base import Collector

_LIBC = ctypes.CDLL(None, use_errno=True)
_DOMAIN_MAX = 65  # bytes: the kernel's __NEW_UTS_LEN + 1


@register
class UnameCollector(Collector):
    """Serves node_uname_info from uname(2) and getdomainname(2) (see module docstring)."""

    name = "uname"

    @staticmethod
    def domainname() -> str:
        """The NIS domain name from libc's getdomainname(2) (``(none)`` when unset).

        Raises OSError when the call fails.
        """
        buf = ctypes.create_string_buffer(_DOMAIN_MAX)
        if _LIBC.getdomainname(buf, _DOMAIN_MAX) != 0:
            raise OSError(ctypes.get_errno(), "getdomainname failed")
        return buf.value.decode("utf-8", errors="replace")

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
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
