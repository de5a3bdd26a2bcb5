"""node_exporter's command line, as data: its Linux collectors (with their default state) and its flags.

Taken from prometheus/node_exporter at commit a7dcc3a01545180d4f2087db70994cbc3abfed13 (2026-08-08,
Apache-2.0): every ``registerCollector(NAME, defaultEnabled|defaultDisabled, ...)`` and every
``kingpin.Flag(NAME, ...)`` in ``collector/*.go`` files built on Linux and in ``node_exporter.go``, plus the
flags its libraries add (exporter-toolkit's ``--web.*``, promslog's ``--log.*``). The daemon uses it so that a
node_exporter flag set never stops start-up: a flag listed here that this build does not implement is
ignored with one warning line naming it, while any other unknown flag stays an error.
"""

from __future__ import annotations

from typing import Literal

#: node_exporter's Linux collectors -> enabled by default.
COLLECTORS: dict[str, bool] = {
    'arp': True, 'bcache': True, 'bcachefs': True, 'bonding': True, 'btrfs': True, 'buddyinfo': False, 'cgroups': False,
    'conntrack': True, 'cpu': True, 'cpu_vulnerabilities': False, 'cpufreq': True, 'diskstats': True,
    'dmi': True, 'dmmultipath': True, 'drbd': False, 'drm': False, 'edac': True, 'entropy': True,
    'ethtool': False, 'fibrechannel': True, 'filefd': True, 'filesystem': True, 'hwmon': True,
    'infiniband': True, 'interrupts': False, 'ipvs': True, 'kernel_hung': True, 'ksmd': False, 'lnstat': False,
    'loadavg': True, 'logind': False, 'mdadm': True, 'meminfo': True, 'meminfo_numa': False,
    'mountstats': False, 'netclass': True, 'netdev': True, 'netstat': True, 'network_route': False,
    'nfs': True, 'nfsd': True, 'ntp': False, 'nvme': True, 'nvmesubsystem': False, 'os': True,
    'pcidevice': False, 'perf': False, 'powersupplyclass': True, 'pressure': True, 'processes': False,
    'qdisc': False, 'rapl': True, 'runit': False, 'schedstat': True, 'selinux': True, 'slabinfo': False,
    'sockstat': True, 'softirqs': False, 'softnet': True, 'stat': True, 'supervisord': False, 'swap': False,
    'sysctl': False, 'systemd': False, 'tapestats': True, 'tcpstat': False, 'textfile': True,
    'thermal_zone': True, 'time': True, 'timex': True, 'udp_queues': True, 'uname': True, 'vmstat': True,
    'watchdog': True, 'wifi': False, 'xfrm': False, 'xfs': True, 'zfs': True, 'zoneinfo': False,
}

FlagKind = Literal["bool", "value", "list"]

#: Every node_exporter flag (without ``--``) -> ``bool`` (also ``--no-FLAG``), ``value`` (one argument,
#: ``--flag=V`` or ``--flag V``) or ``list`` (repeatable). ``--collector.NAME`` switches are in COLLECTORS.
FLAGS: dict[str, FlagKind] = {
    'collector.arp.device-exclude': 'value', 'collector.arp.device-include': 'value',
    'collector.arp.netlink': 'bool', 'collector.bcache.priorityStats': 'bool', 'collector.cpu.guest': 'bool',
    'collector.cpu.info': 'bool', 'collector.cpu.info.bugs-include': 'value',
    'collector.cpu.info.flags-include': 'value', 'collector.disable-defaults': 'bool',
    'collector.diskstats.device-exclude': 'value', 'collector.diskstats.device-include': 'value',
    'collector.diskstats.ignored-devices': 'value', 'collector.ethtool.device-exclude': 'value',
    'collector.ethtool.device-include': 'value', 'collector.ethtool.metrics-include': 'value',
    'collector.filesystem.fs-types-exclude': 'value', 'collector.filesystem.fs-types-include': 'value',
    'collector.filesystem.ignored-fs-types': 'value', 'collector.filesystem.ignored-mount-points': 'value',
    'collector.filesystem.mount-points-exclude': 'value', 'collector.filesystem.mount-points-include': 'value',
    'collector.filesystem.mount-timeout': 'value', 'collector.filesystem.stat-workers': 'value',
    'collector.hwmon.chip-exclude': 'value', 'collector.hwmon.chip-include': 'value',
    'collector.hwmon.sensor-exclude': 'value', 'collector.hwmon.sensor-include': 'value',
    'collector.infiniband.device-exclude': 'value', 'collector.infiniband.device-include': 'value',
    'collector.interrupts.include-zeros': 'bool', 'collector.interrupts.name-exclude': 'value',
    'collector.interrupts.name-include': 'value', 'collector.ipvs.backend-labels': 'value',
    'collector.netclass.ignore-invalid-speed': 'bool', 'collector.netclass.ignored-devices': 'value',
    'collector.netclass.netlink': 'bool', 'collector.netclass_rtnl.with-stats': 'bool',
    'collector.netdev.address-info': 'bool', 'collector.netdev.device-blacklist': 'value',
    'collector.netdev.device-exclude': 'value', 'collector.netdev.device-include': 'value',
    'collector.netdev.device-whitelist': 'value', 'collector.netdev.enable-detailed-metrics': 'bool',
    'collector.netdev.label-ifalias': 'bool', 'collector.netdev.netlink': 'bool',
    'collector.netstat.fields': 'value', 'collector.ntp.ip-ttl': 'value',
    'collector.ntp.local-offset-tolerance': 'value', 'collector.ntp.max-distance': 'value',
    'collector.ntp.protocol-version': 'value', 'collector.ntp.server': 'value',
    'collector.ntp.server-is-local': 'bool', 'collector.ntp.server-port': 'value',
    'collector.pcidevice.idsfile': 'value', 'collector.pcidevice.names': 'bool',
    'collector.perf.cache-profilers': 'list', 'collector.perf.cpus': 'value',
    'collector.perf.disable-cache-profilers': 'bool', 'collector.perf.disable-hardware-profilers': 'bool',
    'collector.perf.disable-software-profilers': 'bool', 'collector.perf.hardware-profilers': 'list',
    'collector.perf.software-profilers': 'list', 'collector.perf.tracepoint': 'list',
    'collector.powersupply.ignored-supplies': 'value', 'collector.qdisc.device-exclude': 'value',
    'collector.qdisc.device-include': 'value', 'collector.qdisc.fixtures': 'value',
    'collector.qdisk.device-exclude': 'value', 'collector.qdisk.device-include': 'value',
    'collector.rapl.enable-zone-label': 'bool', 'collector.runit.servicedir': 'value',
    'collector.slabinfo.slabs-exclude': 'value', 'collector.slabinfo.slabs-include': 'value',
    'collector.stat.softirq': 'bool', 'collector.supervisord.url': 'value', 'collector.sysctl.include': 'list',
    'collector.sysctl.include-info': 'list', 'collector.systemd.enable-restarts-metrics': 'bool',
    'collector.systemd.enable-start-time-metrics': 'bool', 'collector.systemd.enable-task-metrics': 'bool',
    'collector.systemd.private': 'bool', 'collector.systemd.unit-blacklist': 'value',
    'collector.systemd.unit-exclude': 'value', 'collector.systemd.unit-include': 'value',
    'collector.systemd.unit-whitelist': 'value', 'collector.tapestats.ignored-devices': 'value',
    'collector.textfile.directory': 'list', 'collector.vmstat.fields': 'value',
    'collector.wifi.fixtures': 'value', 'log.format': 'value', 'log.level': 'value', 'path.procfs': 'value',
    'path.rootfs': 'value', 'path.sysfs': 'value', 'path.udev.data': 'value', 'runtime.gomaxprocs': 'value',
    'web.config.file': 'value', 'web.disable-exporter-metrics': 'bool', 'web.listen-address': 'list',
    'web.max-requests': 'value', 'web.systemd-socket': 'bool', 'web.telemetry-path': 'value',
}


def flag_kind(name: str) -> FlagKind | None:
    """The kind of node_exporter flag ``name`` (``--`` and a ``--no-`` prefix of a bool already removed);
    None when node_exporter has no such flag. ``collector.NAME`` of a node_exporter collector is a bool."""
    if name.startswith("collector.") and name.removeprefix("collector.") in COLLECTORS:
        return "bool"
    return FLAGS.get(name)
