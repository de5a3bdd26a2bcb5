"""InfiniBand and RoCE port state and traffic from <sysfs>/class/infiniband (node_exporter's infiniband collector).

On a pair of DGX Sparks the ConnectX-7 ports carry NCCL traffic as RDMA (RoCE), which never shows in
/proc/net/dev: these counters are the only record of it. Per device: ``node_infiniband_info{device,
board_id,firmware_version,hca_type}``. Per port (labels ``device``, ``port``): ``state_id`` (4 = active),
``physical_state_id`` (5 = link up), ``rate_bytes_per_second``, and every counter the driver exposes
in ``counters/`` (IB port counters), ``counters_ext/`` (the 64-bit "legacy" set) and ``hw_counters/``
(mlx5 RDMA/RoCE counters), under node_exporter's names. The data counters (``port_rcv_data``,
``port_xmit_data`` and their 64-bit twins) count 4-byte words: they are served in bytes (x4), as
node_exporter does. A counter the driver cannot report (``N/A (no PMA)``, EINVAL) is left out.
``--collector.infiniband.device-include`` / ``device-exclude`` select devices by name (unanchored search), as
current node_exporter does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ExporterConfig, compile_option, regex_option
from . import register
from ._files import list_dir, read_attr
from .base import Collector, Paths

_WORD = 4  # bytes per data-counter unit (the IBA spec counts octets divided by 4)

# (sysfs sub-directory, file) -> (family without _total, multiplier); node_exporter's naming.
COUNTERS: dict[tuple[str, str], tuple[str, int]] = {
    ("counters_ext", "port_multicast_rcv_packets"): ("legacy_multicast_packets_received", 1),
    ("counters_ext", "port_multicast_xmit_packets"): ("legacy_multicast_packets_transmitted", 1),
    ("counters_ext", "port_rcv_data_64"): ("legacy_data_received_bytes", _WORD),
    ("counters_ext", "port_rcv_packets_64"): ("legacy_packets_received", 1),
    ("counters_ext", "port_unicast_rcv_packets"): ("legacy_unicast_packets_received", 1),
    ("counters_ext", "port_unicast_xmit_packets"): ("legacy_unicast_packets_transmitted", 1),
    ("counters_ext", "port_xmit_data_64"): ("legacy_data_transmitted_bytes", _WORD),
    ("counters_ext", "port_xmit_packets_64"): ("legacy_packets_transmitted", 1),
    ("counters", "excessive_buffer_overrun_errors"): ("excessive_buffer_overrun_errors", 1),
    ("counters", "link_downed"): ("link_downed", 1),
    ("counters", "link_error_recovery"): ("link_error_recovery", 1),
    ("counters", "local_link_integrity_errors"): ("local_link_integrity_errors", 1),
    ("counters", "multicast_rcv_packets"): ("multicast_packets_received", 1),
    ("counters", "multicast_xmit_packets"): ("multicast_packets_transmitted", 1),
    ("counters", "port_rcv_constraint_errors"): ("port_constraint_errors_received", 1),
    ("counters", "port_xmit_constraint_errors"): ("port_constraint_errors_transmitted", 1),
    ("counters", "port_rcv_data"): ("port_data_received_bytes", _WORD),
    ("counters", "port_xmit_data"): ("port_data_transmitted_bytes", _WORD),
    ("counters", "port_rcv_discards"): ("port_discards_received", 1),
    ("counters", "port_xmit_discards"): ("port_discards_transmitted", 1),
    ("counters", "port_rcv_errors"): ("port_errors_received", 1),
    ("counters", "port_rcv_packets"): ("port_packets_received", 1),
    ("counters", "port_xmit_packets"): ("port_packets_transmitted", 1),
    ("counters", "port_xmit_wait"): ("port_transmit_wait", 1),
    ("counters", "unicast_rcv_packets"): ("unicast_packets_received", 1),
    ("counters", "unicast_xmit_packets"): ("unicast_packets_transmitted", 1),
    ("counters", "port_rcv_remote_physical_errors"): ("port_receive_remote_physical_errors", 1),
    ("counters", "port_rcv_switch_relay_errors"): ("port_receive_switch_relay_errors", 1),
    ("counters", "symbol_error"): ("symbol_error", 1),
    ("counters", "VL15_dropped"): ("vl15_dropped", 1),
    ("hw_counters", "duplicate_request"): ("duplicate_requests_packets", 1),
    ("hw_counters", "implied_nak_seq_err"): ("implied_nak_seq_errors", 1),
    ("hw_counters", "local_ack_timeout_err"): ("local_ack_timeout_errors", 1),
    ("hw_counters", "np_cnp_sent"): ("np_cnp_packets_sent", 1),
    ("hw_counters", "np_ecn_marked_roce_packets"): ("np_ecn_marked_roce_packets_received", 1),
    ("hw_counters", "out_of_buffer"): ("out_of_buffer_drops", 1),
    ("hw_counters", "out_of_sequence"): ("out_of_sequence_packets_received", 1),
    ("hw_counters", "packet_seq_err"): ("packet_sequence_errors", 1),
    ("hw_counters", "req_cqe_error"): ("req_cqes_errors", 1),
    ("hw_counters", "req_cqe_flush_error"): ("req_cqes_flush_errors", 1),
    ("hw_counters", "req_remote_access_errors"): ("req_remote_access_errors", 1),
    ("hw_counters", "req_remote_invalid_request"): ("req_remote_invalid_request_errors", 1),
    ("hw_counters", "resp_cqe_error"): ("resp_cqes_errors", 1),
    ("hw_counters", "resp_cqe_flush_error"): ("resp_cqes_flush_errors", 1),
    ("hw_counters", "resp_local_length_error"): ("resp_local_length_errors", 1),
    ("hw_counters", "resp_remote_access_errors"): ("resp_remote_access_errors", 1),
    ("hw_counters", "rnr_nak_retry_err"): ("rnr_nak_retry_packets_received", 1),
    ("hw_counters", "roce_adp_retrans"): ("roce_adp_retransmits", 1),
    ("hw_counters", "roce_adp_retrans_to"): ("roce_adp_retransmits_timeout", 1),
    ("hw_counters", "roce_slow_restart"): ("roce_slow_restart_used", 1),
    ("hw_counters", "roce_slow_restart_cnps"): ("roce_slow_restart_cnps", 1),
    ("hw_counters", "roce_slow_restart_trans"): ("roce_slow_restart", 1),
    ("hw_counters", "rp_cnp_handled"): ("rp_cnp_packets_handled", 1),
    ("hw_counters", "rp_cnp_ignored"): ("rp_cnp_ignored_packets_received", 1),
    ("hw_counters", "rx_atomic_requests"): ("rx_atomic_requests", 1),
    ("hw_counters", "rx_dct_connect"): ("rx_dct_connect_requests", 1),
    ("hw_counters", "rx_read_requests"): ("rx_read_requests", 1),
    ("hw_counters", "rx_write_requests"): ("rx_write_requests", 1),
    ("hw_counters", "rx_icrc_encapsulated"): ("rx_icrc_encapsulated_errors", 1),
}

# node_exporter's HELP text of each family (keyed without the namespace/subsystem prefix).
HELP: dict[str, str] = {
    "legacy_multicast_packets_received_total": "Number of multicast packets received",
    "legacy_data_received_bytes_total": "Number of data octets received on all links",
    "legacy_packets_received_total": "Number of data packets received on all links",
    "legacy_unicast_packets_received_total": "Number of unicast packets received",
    "legacy_multicast_packets_transmitted_total": "Number of multicast packets transmitted",
    "legacy_data_transmitted_bytes_total": "Number of data octets transmitted on all links",
    "legacy_packets_transmitted_total": "Number of data packets received on all links",
    "legacy_unicast_packets_transmitted_total": "Number of unicast packets transmitted",
    "excessive_buffer_overrun_errors_total": "Number of times that OverrunErrors consecutive flow control update "
    "periods occurred, each having at least one overrun error.",
    "link_downed_total": "Number of times the link failed to recover from an error state and went down",
    "link_error_recovery_total": "Number of times the link successfully recovered from an error state",
    "local_link_integrity_errors_total": "Number of times that the count of local physical errors exceeded the "
    "threshold specified by LocalPhyErrors.",
    "multicast_packets_received_total": "Number of multicast packets received (including errors)",
    "multicast_packets_transmitted_total": "Number of multicast packets transmitted (including errors)",
    "physical_state_id": "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, "
    "4: shift, 5: link up, 6: link error recover, 7: phytest)",
    "port_constraint_errors_received_total": "Number of packets received on the switch physical port that are "
    "discarded",
    "port_constraint_errors_transmitted_total": "Number of packets not transmitted from the switch physical port",
    "port_data_received_bytes_total": "Number of data octets received on all links",
    "port_data_transmitted_bytes_total": "Number of data octets transmitted on all links",
    "port_discards_received_total": "Number of inbound packets discarded by the port because the port is down or "
    "congested",
    "port_discards_transmitted_total": "Number of outbound packets discarded by the port because the port is down "
    "or congested",
    "port_errors_received_total": "Number of packets containing an error that were received on this port",
    "port_packets_received_total": "Number of packets received on all VLs by this port (including errors)",
    "port_packets_transmitted_total": "Number of packets transmitted on all VLs from this port (including errors)",
    "port_transmit_wait_total": "Number of ticks during which the port had data to transmit but no data was sent "
    "during the entire tick",
    "rate_bytes_per_second": "Maximum signal transfer rate",
    "state_id": "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)",
    "unicast_packets_received_total": "Number of unicast packets received (including errors)",
    "unicast_packets_transmitted_total": "Number of unicast packets transmitted (including errors)",
    "port_receive_remote_physical_errors_total": "Number of packets marked with the EBP (End of Bad Packet) "
    "delimiter received on the port.",
    "port_receive_switch_relay_errors_total": "Number of packets that could not be forwarded by the switch.",
    "symbol_error_total": "Number of minor link errors detected on one or more physical lanes.",
    "vl15_dropped_total": "Number of incoming VL15 packets dropped due to resource limitations.",
    "duplicate_requests_packets_total": "The number of received packets. A duplicate request is a request that had "
    "been previously executed.",
    "implied_nak_seq_errors_total": "The number of time the requested decided an ACK. with a PSN larger than the "
    "expected PSN for an RDMA read or response.",
    "lifespan_seconds": "The maximum period in ms which defines the aging of the counter reads. Two consecutive "
    "reads within this period might return the same values.",
    "local_ack_timeout_errors_total": "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the "
    "sender side. The QP retry limit was not exceed, therefore it is still recoverable error.",
    "np_cnp_packets_sent_total": "The number of CNP packets sent by the Notification Point when it noticed "
    "congestion experienced in the RoCEv2 IP header (ECN bits). The counters was added in MLNX_OFED 4.1",
    "np_ecn_marked_roce_packets_received_total": "The number of RoCEv2 packets received by the notification point "
    "which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) . The "
    "counters was added in MLNX_OFED 4.1",
    "out_of_buffer_drops_total": "The number of drops occurred due to lack of WQE for the associated QPs.",
    "out_of_sequence_packets_received_total": "The number of out of sequence packets received.",
    "packet_sequence_errors_total": "The number of received NAK sequence error packets. The QP retry limit was not "
    "exceeded.",
    "req_cqes_errors_total": "The number of times requester detected CQEs completed with errors. The counters was "
    "added in MLNX_OFED 4.1",
    "req_cqes_flush_errors_total": "The number of times requester detected CQEs completed with flushed errors. The "
    "counters was added in MLNX_OFED 4.1",
    "req_remote_access_errors_total": "The number of times requester detected remote access errors. The counters "
    "was added in MLNX_OFED 4.1",
    "req_remote_invalid_request_errors_total": "The number of times requester detected remote invalid request "
    "errors. The counters was added in MLNX_OFED 4.1",
    "resp_cqes_errors_total": "The number of times responder detected CQEs completed with errors. The counters was "
    "added in MLNX_OFED 4.1",
    "resp_cqes_flush_errors_total": "The number of times responder detected CQEs completed with flushed errors. "
    "The counters was added in MLNX_OFED 4.1",
    "resp_local_length_errors_total": "The number of times responder detected local length errors. The counters "
    "was added in MLNX_OFED 4.1",
    "resp_remote_access_errors_total": "The number of times responder detected remote access errors. The counters "
    "was added in MLNX_OFED 4.1",
    "rnr_nak_retry_packets_received_total": "The number of received RNR NAK packets. The QP retry limit was not "
    "exceeded.",
    "roce_adp_retransmits_total": "The number of adaptive retransmissions for RoCE traffic. The counter was added "
    "in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    "roce_adp_retransmits_timeout_total": "The number of times RoCE traffic reached timeout due to adaptive "
    "retransmission. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    "roce_slow_restart_used_total": "The number of times RoCE slow restart was used. The counter was added in "
    "MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    "roce_slow_restart_cnps_total": "The number of times RoCE slow restart generated CNP packets. The counter was "
    "added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    "roce_slow_restart_total": "The number of times RoCE slow restart changed state to slow restart. The counter "
    "was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0",
    "rp_cnp_packets_handled_total": "The number of CNP packets handled by the Reaction Point HCA to throttle the "
    "transmission rate. The counters was added in MLNX_OFED 4.1",
    "rp_cnp_ignored_packets_received_total": "The number of CNP packets received and ignored by the Reaction Point "
    "HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter "
    "raise, verify that ECN was enabled on the adapter.",
    "rx_atomic_requests_total": "The number of received ATOMIC request for the associated QPs.",
    "rx_dct_connect_requests_total": "The number of received connection requests for the associated DCTs.",
    "rx_read_requests_total": "The number of received READ requests for the associated QPs.",
    "rx_write_requests_total": "The number of received WRITE requests for the associated QPs.",
    "rx_icrc_encapsulated_errors_total": "The number of RoCE packets with ICRC errors. This counter was added in "
    "MLNX_OFED 4.4 and kernel 4.19",
}
_PORT = ["device", "port"]


def parse_rate(text: str) -> float | None:
    """Bytes per second from a port ``rate`` ("40 Gb/sec (4X QDR)", "200 Gb/sec (2X HDR)")."""
    parts = text.split()
    if len(parts) < 2 or parts[1] != "Gb/sec":
        return None
    try:
        return float(parts[0]) * 1e9 / 8  # Gbit/s -> bytes/s
    except ValueError:
        return None


def parse_state(text: str | None) -> int | None:
    """The number of a ``state``/``phys_state`` attribute ("4: ACTIVE" -> 4)."""
    if not text:
        return None
    head = text.split(":", 1)[0].strip()
    return int(head) if head.isdigit() else None


def _counter(text: str | None) -> int | None:
    """A counter file's value; None for "N/A (no PMA)" and other non-numbers."""
    if text is None or not text.isdigit():
        return None
    return int(text)


class _Families:
    def __init__(self) -> None:
        self.by_name: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, key: str, labels: list[str], value: float, counter: bool) -> None:
        fam = self.by_name.get(key)
        if fam is None:
            name = f"node_infiniband_{key}"
            fam = self.by_name[key] = (
                CounterMetricFamily(name.removesuffix("_total"), HELP[key], labels=_PORT)
                if counter
                else GaugeMetricFamily(name, HELP[key], labels=_PORT)
            )
        fam.add_metric(labels, value)


@register
class InfinibandCollector(Collector):
    """Serves node_infiniband_* from <sysfs>/class/infiniband (see module docstring)."""

    name = "infiniband"
    options = (
        regex_option(
            "collector.infiniband.device-include", "",
            "Regexp of infiniband devices to include (node_exporter takes it together with device-exclude: a "
            "device is left out when it matches the exclude or does not match the include).",
        ),
        regex_option(
            "collector.infiniband.device-exclude", "",
            "Regexp of infiniband devices to exclude.",
        ),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        self._include = compile_option(config, "collector.infiniband.device-include")
        self._exclude = compile_option(config, "collector.infiniband.device-exclude")

    def _wanted(self, device: str) -> bool:
        if self._exclude is not None and self._exclude.search(device):
            return False
        return self._include is None or self._include.search(device) is not None

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring)."""
        base = self.paths.sys("class", "infiniband")
        info = GaugeMetricFamily(
            "node_infiniband_info",
            "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
            labels=["device", "board_id", "firmware_version", "hca_type"],
        )
        fams = _Families()
        devices = [d for d in list_dir(base) if self._wanted(d)]
        for device in devices:
            ddir = os.path.join(base, device)
            info.add_metric(
                [
                    device,
                    read_attr(os.path.join(ddir, "board_id")) or "",
                    read_attr(os.path.join(ddir, "fw_ver")) or "",
                    read_attr(os.path.join(ddir, "hca_type")) or "",
                ],
                1.0,
            )
            ports = [p for p in list_dir(os.path.join(ddir, "ports")) if p.isdigit()]
            for port in sorted(ports, key=int):
                self._port(fams, device, port, os.path.join(ddir, "ports", port))
        if not devices:
            return []
        return [info, *fams.by_name.values()]

    @staticmethod
    def _port(fams: _Families, device: str, port: str, pdir: str) -> None:
        labels = [device, port]
        state = parse_state(read_attr(os.path.join(pdir, "state")))
        if state is not None:
            fams.add("state_id", labels, state, False)
        phys = parse_state(read_attr(os.path.join(pdir, "phys_state")))
        if phys is not None:
            fams.add("physical_state_id", labels, phys, False)
        rate = parse_rate(read_attr(os.path.join(pdir, "rate")) or "")
        if rate is not None:
            fams.add("rate_bytes_per_second", labels, rate, False)
        present = {sub: set(list_dir(os.path.join(pdir, sub))) for sub in ("counters", "counters_ext", "hw_counters")}
        for (sub, fname), (family, scale) in COUNTERS.items():
            if fname not in present[sub]:
                continue
            value = _counter(read_attr(os.path.join(pdir, sub, fname)))
            if value is not None:
                fams.add(family + "_total", labels, value * scale, True)
        if "lifespan" in present["hw_counters"]:
            lifespan = _counter(read_attr(os.path.join(pdir, "hw_counters", "lifespan")))
            if lifespan is not None:
                fams.add("lifespan_seconds", labels, lifespan // 1000, False)  # ms, whole seconds as upstream
