"""Power supplies from <sysfs>/class/power_supply (node_exporter's powersupplyclass collector).

On a DGX Spark the USB-C PD input shows here (a ucsi source): ``node_power_supply_online``,
``_voltage_volt``, ``_current_ampere``, ``_input_current_limit`` and ``_power_watt`` expose a badly
negotiated supply, which caps the machine near 30 W. Per supply (label ``power_supply``): plain values
(online, present, capacity, cycle count, times to empty/full), µV/µA/µW/µWh/µAh values served in V, A,
W, Wh and Ah, tenths of °C served in °C, and ``node_power_supply_info`` with the text attributes
(type, status, technology, usb_type, ...). ``--collector.powersupply.ignored-supplies`` drops supplies.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import list_dir, read_attr
from .base import Collector, Paths

# metric suffix -> (sysfs file, scale); node_exporter's names
VALUES: dict[str, tuple[str, float]] = {
    "authentic": ("authentic", 1),
    "calibrate": ("calibrate", 1),
    "capacity": ("capacity", 1),
    "capacity_alert_max": ("capacity_alert_max", 1),
    "capacity_alert_min": ("capacity_alert_min", 1),
    "cyclecount": ("cycle_count", 1),
    "online": ("online", 1),
    "present": ("present", 1),
    "time_to_empty_seconds": ("time_to_empty_now", 1),
    "time_to_full_seconds": ("time_to_full_now", 1),
    "current_boot": ("current_boot", 1e-6),
    "current_max": ("current_max", 1e-6),
    "current_ampere": ("current_now", 1e-6),
    "energy_empty": ("energy_empty", 1e-6),
    "energy_empty_design": ("energy_empty_design", 1e-6),
    "energy_full": ("energy_full", 1e-6),
    "energy_full_design": ("energy_full_design", 1e-6),
    "energy_watthour": ("energy_now", 1e-6),
    "voltage_boot": ("voltage_boot", 1e-6),
    "voltage_max": ("voltage_max", 1e-6),
    "voltage_max_design": ("voltage_max_design", 1e-6),
    "voltage_min": ("voltage_min", 1e-6),
    "voltage_min_design": ("voltage_min_design", 1e-6),
    "voltage_volt": ("voltage_now", 1e-6),
    "voltage_ocv": ("voltage_ocv", 1e-6),
    "charge_control_limit": ("charge_control_limit", 1e-6),
    "charge_control_limit_max": ("charge_control_limit_max", 1e-6),
    "charge_counter": ("charge_counter", 1e-6),
    "charge_empty": ("charge_empty", 1e-6),
    "charge_empty_design": ("charge_empty_design", 1e-6),
    "charge_full": ("charge_full", 1e-6),
    "charge_full_design": ("charge_full_design", 1e-6),
    "charge_ampere": ("charge_now", 1e-6),
    "charge_term_current": ("charge_term_current", 1e-6),
    "constant_charge_current": ("constant_charge_current", 1e-6),
    "constant_charge_current_max": ("constant_charge_current_max", 1e-6),
    "constant_charge_voltage": ("constant_charge_voltage", 1e-6),
    "constant_charge_voltage_max": ("constant_charge_voltage_max", 1e-6),
    "precharge_current": ("precharge_current", 1e-6),
    "input_current_limit": ("input_current_limit", 1e-6),
    "power_watt": ("power_now", 1e-6),
    "temp_celsius": ("temp", 0.1),
    "temp_alert_max_celsius": ("temp_alert_max", 0.1),
    "temp_alert_min_celsius": ("temp_alert_min", 0.1),
    "temp_ambient_celsius": ("temp_ambient", 0.1),
    "temp_ambient_max_celsius": ("temp_ambient_max", 0.1),
    "temp_ambient_min_celsius": ("temp_ambient_min", 0.1),
    "temp_max_celsius": ("temp_max", 0.1),
    "temp_min_celsius": ("temp_min", 0.1),
}
INFO = (
    "capacity_level",
    "charge_type",
    "health",
    "manufacturer",
    "model_name",
    "serial_number",
    "status",
    "technology",
    "type",
    "usb_type",
    "scope",
)


@register
class PowerSupplyClassCollector(Collector):
    """Serves node_power_supply_* from <sysfs>/class/power_supply (see module docstring)."""

    name = "powersupplyclass"
    options = (
        regex_option(
            "collector.powersupply.ignored-supplies",
            "^$",
            "Regexp of power supplies to ignore for powersupplyclass collector.",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._ignored = compile_option(config, "collector.powersupply.ignored-supplies")

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "power_supply")
        fams: dict[str, GaugeMetricFamily] = {}
        # One family whose series carry different label sets (only the attributes each supply has), as
        # node_exporter serves it; GaugeMetricFamily fixes one label set, so samples are added directly.
        info = Metric("node_power_supply_info", "info of /sys/class/power_supply/<power_supply>.", "gauge")
        for supply in list_dir(base):
            if self._ignored is not None and self._ignored.search(supply):
                continue
            d = os.path.join(base, supply)
            present = set(list_dir(d))
            for suffix, (fname, scale) in VALUES.items():
                if fname not in present:
                    continue
                raw = read_attr(os.path.join(d, fname))
                try:
                    value = int(raw or "")
                except ValueError:
                    continue
                fam = fams.get(suffix)
                if fam is None:
                    fam = fams[suffix] = GaugeMetricFamily(
                        f"node_power_supply_{suffix}",
                        f"{suffix} value of /sys/class/power_supply/<power_supply>.",
                        labels=["power_supply"],
                    )
                # µ-units / 1e6, as node_exporter divides (x * 1e-6 differs in the last bit: 47.519999... for 47.52)
                fam.add_metric([supply], value / round(1 / scale) if scale != 1 else value)
            text = {k: read_attr(os.path.join(d, k)) if k in present else None for k in INFO}
            labels = {"power_supply": supply, **{k: v for k, v in text.items() if v}}
            info.add_sample("node_power_supply_info", labels, 1.0)
        return [*fams.values(), info] if info.samples else list(fams.values())
