"""The Command Center rollups against real engines fed by simulated GB10 exporters.

The same tests run against Prometheus (the shared simulated cluster) and against VictoriaMetrics
single-node scraping the same generated prometheus.yml, with vmalert evaluating rules/ and writing
the recorded series back, to show that the queries do not depend on the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from helpers.cluster import all_rule_files, node_name, simulated_cluster, write_inventory
from helpers.procs import (
    Proc,
    exporter,
    free_port,
    require_binary,
    start_process,
    tempdir,
    victoria_metrics,
    wait_for,
)
from spark_exporter.prometheus.inventory import Inventory, load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config
from spark_exporter.query import (
    VIRTUAL_INTERFACES,
    InvalidParameter,
    PrometheusClient,
    Rollups,
    UnknownNodeError,
)

NODES = ("spark-01", "spark-02")


@dataclass
class Engine:
    name: str
    url: str
    inventory: Inventory
    exporters: dict[str, Proc]


def mem_total_mib() -> float:
    """This host's MemTotal in MiB: what a simulated GB10 reports as unified GPU memory."""
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


@contextlib.contextmanager
def vm_cluster() -> Iterator[Engine]:
    """Two simulated exporters scraped by VictoriaMetrics, with vmalert recording rules/ into it."""
    vmalert = require_binary("vmalert")
    with contextlib.ExitStack() as stack:
        exporters = {
            node_name(i): stack.enter_context(
                exporter("--gpu.simulate=gb10", f"--gpu.seed={i + 1}")
            )
            for i in range(2)
        }
        d = stack.enter_context(tempdir("vm-cluster"))
        write_inventory(d / "inventory.yml", exporters)
        inventory = load_inventory(str(d / "inventory.yml"))
        config = build_prometheus_config(inventory, [], scrape_interval="1s", evaluation_interval="1s")
        (d / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        # latencyOffset 0: answer from the newest samples, as Prometheus does.
        vm = stack.enter_context(
            victoria_metrics(
                f"-promscrape.config={d / 'prometheus.yml'}",
                "-promscrape.config.strictParse=false",
                "-search.latencyOffset=0s",
            )
        )
        port = free_port()
        rules = [f"-rule={p}" for p in all_rule_files()]
        alert = start_process(
            "vmalert",
            [
                vmalert,
                *rules,
                f"-datasource.url={vm.url}",
                f"-remoteWrite.url={vm.url}",
                "-evaluationInterval=1s",
                # no Alertmanager here; alert states still land in ALERTS
                f"-notifier.url=http://127.0.0.1:{free_port()}",
                f"-httpListenAddr=127.0.0.1:{port}",
            ],
            port,
            d,
            f"http://127.0.0.1:{port}/health",
        )
        stack.callback(alert.stop)
        yield Engine("victoria-metrics", vm.url, inventory, exporters)


@pytest.fixture(scope="module", params=["prometheus", "victoria-metrics"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "prometheus":
        c = request.getfixturevalue("gb10_cluster")  # shared per session (conftest.py): these tests only read from it
        e = Engine("prometheus", c.prometheus_url, c.inventory, c.exporters)
        wait_until_complete(e)
        yield e
    else:
        with vm_cluster() as e:
            wait_until_complete(e)
            yield e


def run(engine: Engine, fn, inventory: bool = True):  # type: ignore[no-untyped-def]
    """Call ``fn(rollups)`` with a fresh client against the engine; returns its result."""

    async def go():  # type: ignore[no-untyped-def]
        async with PrometheusClient(engine.url) as client:
            return await fn(Rollups(client, engine.inventory if inventory else None, scrape_interval=1.0))

    return asyncio.run(go())


def wait_until_complete(engine: Engine) -> None:
    """Wait until both nodes have GPU, CPU and network figures (rates need a few scrapes)."""

    def ready() -> bool:
        nodes = run(engine, lambda r: r.nodes()).nodes
        net = run(engine, lambda r: r.network_stats())
        return (
            len(nodes) == 2
            and all(n.up and n.utilization is not None and n.cpu_utilization is not None for n in nodes)
            and {n.node for n in net.nodes} == set(NODES)
        )

    wait_for(ready, timeout=60, interval=1.0, what=f"complete data in {engine.name}")


class TestClusterOverview:
    def test_gpu_figures_are_present_and_plausible(self, engine: Engine) -> None:
        """Utilisation, power, temperature and memory come back as readings in their ranges."""
        ov = run(engine, lambda r: r.cluster_overview())
        assert ov.cluster == "test"
        assert ov.gpu_utilization is not None and 0 <= ov.gpu_utilization <= 100
        assert ov.power_draw_w is not None and ov.power_draw_w > 0
        assert ov.max_gpu_temperature_c is not None and 20 <= ov.max_gpu_temperature_c <= 110
        assert ov.memory_used_gb is not None and 0 < ov.memory_used_gb <= ov.memory_total_gb
        assert not {"gpuUtilization", "powerDrawW", "memoryUsedGB", "maxGpuTemperatureC"} & set(ov.missing)

    def test_recording_rules_are_evaluated_by_the_engine(self, engine: Engine) -> None:
        """The rules from rules/ produce their series in this engine (Prometheus itself, or vmalert)."""

        async def rule_series(r: Rollups):  # type: ignore[no-untyped-def]
            return (await r.client.query('cluster:gpu_utilization:avg{cluster="test"}')).samples

        samples = wait_for(lambda: run(engine, rule_series), timeout=30, what="cluster:gpu_utilization:avg")
        assert len(samples) == 1 and samples[0].value is not None

    def test_memory_total_is_each_nodes_unified_pool(self, engine: Engine) -> None:
        """On GB10 each node's GPU memory total is the host's MemTotal, so the cluster has two of them."""
        ov = run(engine, lambda r: r.cluster_overview())
        assert ov.memory_total_gb == pytest.approx(2 * mem_total_mib() / 1024, abs=4 / 1024)

    def test_nodes_are_counted_up(self, engine: Engine) -> None:
        """Both inventory nodes are up, and no target is down or stale."""
        ov = run(engine, lambda r: r.cluster_overview())
        assert (ov.nodes_up, ov.nodes_total) == (2, 2)
        assert ov.down_targets == [] and ov.stale_targets == []

    @pytest.mark.parametrize("inventory", [True, False])
    def test_the_small_and_large_fleet_queries_agree_at_one_instant(self, engine: Engine, inventory: bool) -> None:
        """The overview read by name and aggregated by the API (small fleet) equals the one Prometheus aggregates
        (large fleet, Rollups.aggregate_above 0) at the same instant: every figure, count, target and reason."""

        async def both(r: Rollups):  # type: ignore[no-untyped-def]
            at = r.instant(None)
            small = await r.cluster_overview(at)
            r.aggregate_above = 0
            r._fleet_seen = small.nodes_total or 0
            return small, await r.cluster_overview(at)

        small, large = run(engine, both, inventory=inventory)
        a, b = small.model_dump(exclude={"timestamp"}), large.model_dump(exclude={"timestamp"})  # when answered
        for key in ("gpu_utilization", "memory_used_gb", "memory_total_gb", "power_draw_w"):
            assert a.pop(key) == pytest.approx(b.pop(key), rel=1e-9), key
        assert a == b
        assert large.nodes_total == 2 and large.gpu_utilization is not None

    def test_absent_sources_are_none_with_a_reason(self, engine: Engine) -> None:
        """Spark and vLLM are not scraped, so their figures are None with a reason, never 0."""
        ov = run(engine, lambda r: r.cluster_overview())
        for field, key in (
            ("active_jobs", "activeJobs"),
            ("active_tasks", "activeTasks"),
            ("vllm_requests_running", "vllmRequestsRunning"),
            ("vllm_requests_waiting", "vllmRequestsWaiting"),
            ("vllm_generation_tokens_per_sec", "vllmGenerationTokensPerSec"),
            ("inference_generation_tokens_per_sec", "inferenceGenerationTokensPerSec"),
        ):
            assert getattr(ov, field) is None
            assert ov.missing[key]
        assert isinstance(ov.firing_alerts, int)

    def test_without_inventory_nodes_come_from_the_engine(self, engine: Engine) -> None:
        """With no inventory the node set is read from the engine's up series."""

        async def both(r: Rollups):  # type: ignore[no-untyped-def]
            return await r.known_nodes(), await r.cluster_overview()

        known, ov = run(engine, both, inventory=False)
        assert known == NODES
        assert ov.cluster is None and ov.nodes_total == 2 and ov.gpu_utilization is not None


class TestNodeGpuMetrics:
    @pytest.mark.parametrize("node", NODES)
    def test_each_node_reports_its_gb10(self, engine: Engine, node: str) -> None:
        """A node's single GB10 shows up with unified memory equal to the host's MemTotal."""
        m = run(engine, lambda r: r.node_gpu_metrics(node))
        assert (m.node, m.up, m.stale, m.memory_source) == (node, True, False, "unified")
        assert [g.model_name for g in m.gpus] == ["NVIDIA GB10"]
        assert m.memory_total_mb == pytest.approx(mem_total_mib(), abs=2)
        assert m.memory_free_mb is not None and 0 < m.memory_free_mb <= m.memory_total_mb
        assert m.utilization is not None and 0 <= m.utilization <= 100
        assert m.power_draw is not None and m.power_draw > 0
        assert m.missing == {}

    def test_node_list_covers_the_inventory(self, engine: Engine) -> None:
        """The node list has every inventory node, up, with one GPU each."""
        nodes = run(engine, lambda r: r.nodes()).nodes
        assert [(n.node, n.up, n.gpu_count, n.in_inventory) for n in nodes] == [
            (x, True, 1, True) for x in NODES
        ]


class TestHistory:
    def test_one_hour_in_15s_steps(self, engine: Engine) -> None:
        """The 1h history of a node is one series of percentages at 15 s steps, timestamps in ms."""
        # VictoriaMetrics aligns a range query of 50 or more points to multiples of its step (for its
        # response cache; -search.disableCache or nocache=1 turn that off), ending up to one step
        # before `end`. Until the cluster's first samples are older than that step boundary the range
        # holds no samples and the history is empty, depending on when in the 15 s cycle the test
        # runs. So wait for that precondition (samples before the last step boundary) on every engine.
        h = wait_for(lambda: (x := run(engine, lambda r: r.gpu_utilization_history("spark-01", "1h"))).series and x,
                     timeout=60, interval=1.0, what=f"samples older than one 15 s step in {engine.name}")
        assert h.step == 15 and h.end - h.start == 3600
        assert len(h.series) == 1 and h.series[0].metric["node"] == "spark-01"
        points = h.series[0].values
        assert points and all(p.value is not None and 0 <= p.value <= 100 for p in points)
        stamps = [p.timestamp for p in points]
        assert all(b - a == 15000 for a, b in zip(stamps, stamps[1:], strict=False))
        assert h.start * 1000 <= stamps[0] and stamps[-1] <= h.end * 1000

    def test_unknown_duration_is_refused(self, engine: Engine) -> None:
        """Only 1h, 6h, 24h and 7d are accepted."""
        with pytest.raises(InvalidParameter, match="duration"):
            run(engine, lambda r: r.gpu_utilization_history("spark-01", "2h"))


class TestNetwork:
    def test_physical_interfaces_per_node(self, engine: Engine) -> None:
        """Both nodes report interfaces, none virtual, and the totals add up the nodes."""
        net = run(engine, lambda r: r.network_stats())
        assert {n.node for n in net.nodes} == set(NODES)
        assert net.interfaces and not any(re.fullmatch(VIRTUAL_INTERFACES, i.device) for i in net.interfaces)
        assert net.rx_bytes_per_sec == pytest.approx(sum(n.rx_bytes_per_sec or 0 for n in net.nodes))
        assert all(i.rx_bytes_per_sec is not None and i.rx_bytes_per_sec >= 0 for i in net.interfaces)

    def test_one_node(self, engine: Engine) -> None:
        """With a node given only that node's interfaces are returned."""
        net = run(engine, lambda r: r.network_stats("spark-02"))
        assert {i.node for i in net.interfaces} == {"spark-02"}


class TestNodeIdentity:
    @pytest.mark.parametrize("bad", ['"} or vector(1) or up{x="', "spark-01\n", "../etc", "", "a" * 64, "-x"])
    def test_malformed_names_are_invalid(self, engine: Engine, bad: str) -> None:
        """A name outside the node-name grammar is an InvalidParameter before any query."""
        with pytest.raises(InvalidParameter):
            run(engine, lambda r: r.node_gpu_metrics(bad))

    def test_unknown_node_is_refused(self, engine: Engine) -> None:
        """A well-formed name missing from the inventory is an UnknownNodeError naming the known nodes."""
        with pytest.raises(UnknownNodeError, match="spark-01"):
            run(engine, lambda r: r.node_gpu_metrics("spark-99"))

    def test_unknown_node_without_inventory(self, engine: Engine) -> None:
        """Without an inventory a name the engine has never seen is unknown too."""
        with pytest.raises(UnknownNodeError):
            run(engine, lambda r: r.network_stats("spark-99"), inventory=False)


class TestDownAndStale:
    def test_stopped_exporter_is_flagged_down_and_its_figures_missing(self) -> None:
        """After one exporter stops, the overview counts one node up and its GPU figures are None."""
        with simulated_cluster(2, interval="1s") as c:
            e = Engine("prometheus", c.prometheus_url, c.inventory, c.exporters)
            wait_until_complete(e)
            c.exporters["spark-02"].stop()

            async def aggregated(r: Rollups):  # type: ignore[no-untyped-def]
                r.aggregate_above = 0  # the large-fleet query, which lists only the problem targets
                return await r.cluster_overview()

            wait_for(lambda: run(e, aggregated).nodes_up == 1, 60, 1.0, "the aggregated overview to count 1 up")
            assert [t.node for t in run(e, aggregated).down_targets] == ["spark-02"]
            wait_for(
                lambda: run(e, lambda r: r.cluster_overview()).nodes_up == 1,
                timeout=30,
                what="spark-02 counted down",
            )
            ov = run(e, lambda r: r.cluster_overview())
            assert [t.node for t in ov.down_targets] == ["spark-02"]
            m = run(e, lambda r: r.node_gpu_metrics("spark-02"))
            assert m.up is False and m.utilization is None
            assert "down" in m.missing["utilization"]

    def test_silent_target_is_stale(self, engine: Engine) -> None:
        """A target whose last scrape is older than two scrape intervals is flagged stale."""

        for aggregate_above in (32, 0):  # the small-fleet and the large-fleet query

            async def tight(r: Rollups):  # type: ignore[no-untyped-def]
                r.scrape_interval = 0.001  # s: every real scrape is older than 2 ms by the time it is read
                r.aggregate_above = aggregate_above  # noqa: B023 - awaited within this iteration
                return await r.cluster_overview()

            ov = run(engine, tight)
            assert {t.node for t in ov.stale_targets} == set(NODES)
            assert all(t.last_scrape_age_seconds and t.last_scrape_age_seconds > 0 for t in ov.stale_targets)
            assert ov.nodes_up == 0


class TestWithoutRecordingRules:
    def test_raw_fallbacks_answer_every_rollup(self) -> None:
        """With no rules loaded every rollup still answers from the raw series (rule-or-raw queries)."""
        with simulated_cluster(2, interval="1s", rule_files=False) as c:
            e = Engine("prometheus-no-rules", c.prometheus_url, c.inventory, c.exporters)
            wait_until_complete(e)
            rules = run(e, lambda r: r.client.query('{__name__=~"cluster:.*|node:.*"}'))
            assert rules.samples == []
            ov = run(e, lambda r: r.cluster_overview())
            assert ov.gpu_utilization is not None and ov.power_draw_w is not None
            assert ov.memory_total_gb == pytest.approx(2 * mem_total_mib() / 1024, abs=4 / 1024)
            hist = run(e, lambda r: r.gpu_utilization_history("spark-02", "1h"))
            assert [s.metric["node"] for s in hist.series] == ["spark-02"]
