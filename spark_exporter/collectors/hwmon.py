"""Hardware sensors from <sysfs>/class/hwmon (node_exporter's hwmon collector).

Series are named and labelled exactly as node_exporter 1.5 names them, so lm-sensors dashboards work:
``node_hwmon_temp_celsius{chip,sensor}`` (and ``_max``/``_crit``/... variants), ``node_hwmon_fan_rpm``,
``node_hwmon_in_volts``, ``node_hwmon_power_watt``, ``node_hwmon_chip_names{chip,chip_name}`` and
``node_hwmon_sensor_label{chip,sensor,label}``.

The ``chip`` label is derived from the hwmon directory like node_exporter does it: first from the
resolved ``device`` link, as ``<parent dir>_<device dir>`` cleaned to ``[a-z0-9:_]`` (``platform_coretemp_0``,
``nvme_nvme0``, ``thermal_thermal_zone0``, ``0000:00:00_0_0000:01:00_0`` for a PCI function such as a
ConnectX-7 port); else from the ``name`` file; else the ``hwmonN`` directory name. A machine without
/sys/class/hwmon gets no series and the collector still succeeds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import read_text
from .base import Collector, Paths

_INVALID = re.compile(r"[^a-z0-9:_]")
_FILENAME = re.compile(r"^(?P<type>[^0-9]+)(?P<id>[0-9]*)?(_(?P<property>.+))?$")
SENSOR_TYPES = frozenset(
    {
        "vrm",
        "beep_enable",
        "update_interval",
        "in",
        "cpu",
        "fan",
        "pwm",
        "temp",
        "curr",
        "power",
        "energy",
        "humidity",
        "intrusion",
        "freq",
    }
)
LABELS = ["chip", "sensor"]
_MAX_READ = 4096  # bytes; sysfs values are short, and a broken driver must not make us read forever


def clean_name(name: str) -> str:
    """Lower-case, map anything outside [a-z0-9:_] to "_", trim "_" (node_exporter's cleanMetricName)."""
    return _INVALID.sub("_", name.lower()).strip("_")


def explode(filename: str) -> tuple[str, int, str] | None:
    """Split ``temp1_crit_alarm`` into ("temp", 1, "crit_alarm"); None if it is no sensor file name."""
    m = _FILENAME.match(filename)
    if m is None:
        return None
    return m.group("type"), int(m.group("id") or 0), m.group("property") or ""


def _read(path: str) -> str | None:
    try:
        return read_text(path, _MAX_READ).strip("\n")
    except OSError:
        return None


def chip_name(hwmon_dir: str) -> str | None:
    """The ``chip`` label for one hwmon directory (device link, then name file, then hwmonN)."""
    device = os.path.join(hwmon_dir, "device")
    if os.path.exists(device):
        resolved = os.path.realpath(device)
        dev_name = clean_name(os.path.basename(resolved))
        dev_type = clean_name(os.path.basename(os.path.dirname(resolved)))
        if dev_type and dev_name:
            return f"{dev_type}_{dev_name}"
        if dev_name:
            return dev_name
    name = human_chip_name(hwmon_dir)
    if name:
        return name
    return clean_name(os.path.basename(os.path.realpath(hwmon_dir))) or None


def chip_names(hwmon_dirs: list[str]) -> dict[str, str]:
    """The ``chip`` label of each hwmon directory, distinct even where several share one device.

    Drivers may register several hwmon directories under one parent device (a Wi-Fi card with one
    per radio, a laptop's WMI and fan nodes): their device-derived names collide. As current
    node_exporter does, each colliding name gets the chip's ``name`` file appended when that tells
    them apart, else its ``hwmonN`` directory name (unique within a boot). Unique names are unchanged.
    """
    bases = {d: chip_name(d) for d in hwmon_dirs}
    groups: dict[str, list[str]] = {}
    for d, name in bases.items():
        if name is not None:
            groups.setdefault(name, []).append(d)
    out: dict[str, str] = {}
    for name, dirs in groups.items():
        if len(dirs) == 1:
            out[dirs[0]] = name
            continue
        humans = [human_chip_name(d) for d in dirs]
        distinct = all(humans) and len(set(humans)) == len(humans)
        for d, human in zip(dirs, humans, strict=True):
            suffix = human if distinct else clean_name(os.path.basename(d))
            out[d] = f"{name}_{suffix}"
    return out


def human_chip_name(hwmon_dir: str) -> str | None:
    """The cleaned ``name`` file (``nvme``, ``acpitz``, ``mlx5``), for node_hwmon_chip_names."""
    raw = _read(os.path.join(hwmon_dir, "name"))
    if not raw:
        return None
    return clean_name(raw) or None


def sensor_data(directory: str, data: dict[str, dict[str, str]]) -> None:
    """Add the readable sensor files of one directory to ``data[sensor][property]``."""
    for filename in sorted(os.listdir(directory)):
        parts = explode(filename)
        if parts is None or parts[0] not in SENSOR_TYPES:
            continue
        value = _read(os.path.join(directory, filename))
        if value is not None:
            data.setdefault(f"{parts[0]}{parts[1]}", {})[parts[2]] = value


def _metric_for(sensor_type: str, element: str) -> tuple[str, float, bool, str]:
    """(name suffix, scale, is counter, HELP) for one element, following node_exporter's unit rules."""
    if element in ("fault", "alarm"):
        return "", 1.0, False, f"Hardware sensor {element} status ({sensor_type})"
    if element == "beep":
        return "_enabled", 1.0, False, "Hardware monitor sensor has beeping enabled"
    if sensor_type in ("in", "cpu"):
        return "_volts", 0.001, False, f"Hardware monitor for voltage ({element})"  # mV
    if sensor_type == "temp" and element != "type":
        return "_celsius", 0.001, False, f"Hardware monitor for temperature ({element or 'input'})"  # m°C
    if sensor_type == "curr":
        return "_amps", 0.001, False, f"Hardware monitor for current ({element})"  # mA
    if sensor_type == "energy":
        return "_joule_total", 1e-6, True, f"Hardware monitor for joules used so far ({element})"  # uJ
    if sensor_type == "power" and element == "accuracy":
        return "", 1e-6, False, "Hardware monitor power meter accuracy, as a ratio"
    if sensor_type == "power" and element in ("average_interval", "average_interval_min", "average_interval_max"):
        return "_seconds", 0.001, False, f"Hardware monitor power usage update interval ({element})"  # ms
    if sensor_type == "power":
        return "_watt", 1e-6, False, f"Hardware monitor for power usage in watts ({element})"  # uW
    if sensor_type == "humidity":
        return "", 1e-6, False, f"Hardware monitor for humidity ({element})"  # milli-percent -> ratio
    if sensor_type == "fan" and element in ("input", "min", "max", "target"):
        return "_rpm", 1.0, False, f"Hardware monitor for fan revolutions per minute ({element})"
    return "", 1.0, False, f"Hardware monitor {sensor_type} element {element}"


class _Out:
    """Families of one collection keyed by name (many chips add to the same family)."""

    def __init__(self) -> None:
        self.fams: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(
        self, name: str, doc: str, labels: list[str], values: list[str], value: float, counter: bool = False
    ) -> None:
        fam = self.fams.get(name)
        if fam is None:
            base = name.removesuffix("_total") if counter else name
            fam = self.fams[name] = (
                CounterMetricFamily(base, doc, labels=labels)
                if counter
                else GaugeMetricFamily(name, doc, labels=labels)
            )
        fam.add_metric(values, value)


def _kept(name: str, exclude: re.Pattern[str] | None, include: re.Pattern[str] | None) -> bool:
    """node_exporter's deviceFilter: kept unless it matches the exclude or an include is set and not matched."""
    if exclude is not None and exclude.search(name):
        return False
    return include is None or include.search(name) is not None


@register
class HwmonCollector(Collector):
    """Serves node_hwmon_* from <sysfs>/class/hwmon (see module docstring)."""

    name = "hwmon"
    options = (
        regex_option(
            "collector.hwmon.chip-include", "",
            "Regexp of hwmon chip to include (mutually exclusive to device-exclude)."
        ),
        regex_option(
            "collector.hwmon.chip-exclude", "",
            "Regexp of hwmon chip to exclude (mutually exclusive to device-include)."
        ),
        regex_option(
            "collector.hwmon.sensor-include", "",
            "Regexp of hwmon sensors to include, matched against CHIP;SENSOR (e.g. platform_coretemp_0;temp3)."
        ),
        regex_option(
            "collector.hwmon.sensor-exclude", "",
            "Regexp of hwmon sensors to exclude, matched against CHIP;SENSOR (e.g. platform_coretemp_0;temp3)."
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._include = compile_option(config, "collector.hwmon.chip-include")
        self._exclude = compile_option(config, "collector.hwmon.chip-exclude")
        self._sensor_include = compile_option(config, "collector.hwmon.sensor-include")
        self._sensor_exclude = compile_option(config, "collector.hwmon.sensor-exclude")

    def _wanted(self, chip: str) -> bool:
        return _kept(chip, self._exclude, self._include)

    def _sensor_wanted(self, chip: str, sensor: str) -> bool:
        """node_exporter matches the sensor filters against ``CHIP;SENSOR`` (chip label, sensor label), so that
        one sensor of one chip can be picked; node_hwmon_chip_names is not filtered by them."""
        return _kept(f"{chip};{sensor}", self._sensor_exclude, self._sensor_include)

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "hwmon")
        try:
            entries = sorted(os.listdir(base))
        except FileNotFoundError:
            return []  # no hwmon on this machine: nothing to report, not a failure
        out = _Out()
        paths = [os.path.join(base, e) for e in entries if os.path.isdir(os.path.join(base, e))]
        for path, chip in chip_names(paths).items():
            if self._wanted(chip):
                self._chip(out, path, chip)
        return list(out.fams.values())

    def _chip(self, out: _Out, path: str, chip: str) -> None:
        data: dict[str, dict[str, str]] = {}
        sensor_data(path, data)
        if os.path.exists(os.path.join(path, "device")):
            sensor_data(os.path.join(path, "device"), data)
        human = human_chip_name(path)
        if human:
            out.add(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                ["chip", "chip_name"],
                [chip, human],
                1.0,
            )
        for sensor, props in sorted(data.items()):
            if self._sensor_wanted(chip, sensor):
                self._sensor(out, chip, sensor, props)

    def _sensor(self, out: _Out, chip: str, sensor: str, props: dict[str, str]) -> None:
        parts = explode(sensor)
        sensor_type = parts[0] if parts else sensor
        labels = [chip, sensor]
        if "label" in props:
            out.add(
                "node_hwmon_sensor_label",
                "Label for given chip and sensor",
                ["chip", "sensor", "label"],
                [chip, sensor, props["label"]],
                1.0,
            )
        if sensor_type == "beep_enable":
            out.add(
                "node_hwmon_beep_enabled",
                "Hardware beep enabled",
                LABELS,
                labels,
                1.0 if props.get("") == "1" else 0.0,
            )
            return
        if sensor_type in ("vrm", "update_interval"):
            self._single(out, sensor_type, labels, props.get(""))
            return
        for element, raw in sorted(props.items()):
            if element == "label":
                continue
            try:
                value = float(raw)
            except ValueError:
                continue
            name = f"node_hwmon_{sensor_type}"
            if element == "input":
                name += "_input" if "" in props else ""
            elif element:
                name += "_" + clean_name(element)
            if sensor_type == "freq":
                if element == "input" and "label" in props:  # current node_exporter: labelled clocks only
                    out.add(
                        name + "_freq_mhz",
                        "Hardware monitor for GPU frequency in MHz",
                        LABELS,
                        [chip, clean_name(props["label"])],
                        value / 1e6,  # Hz
                    )
                continue
            suffix, scale, counter, doc = _metric_for(sensor_type, element)
            out.add(name + suffix, doc, LABELS, labels, value * scale, counter)

    @staticmethod
    def _single(out: _Out, sensor_type: str, labels: list[str], raw: str | None) -> None:
        try:
            value = float(raw or "")
        except ValueError:
            return
        if sensor_type == "vrm":
            out.add("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", LABELS, labels, value)
        else:
            out.add(
                "node_hwmon_update_interval_seconds",
                "Hardware monitor update interval",
                LABELS,
                labels,
                value * 0.001,
            )  # ms
