"""node_exporter's command line and URL parameters are ours: flag names, deprecated spellings, flags of
collectors this build lacks, --collector.disable-defaults, collect[]/exclude[], --web.disable-exporter-metrics
and --web.max-requests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from helpers.node_exporter_e2e import E2E_COLLECTOR_FLAGS
from helpers.procs import parse_metrics
from spark_exporter import cli
from spark_exporter.collectors import load_all
from spark_exporter.collectors.base import Collector, Paths
from spark_exporter.exporter.app import build_app
from spark_exporter.exporter.collection import Collection
from spark_exporter.exporter.daemon import exporter_schema, load_config
from spark_exporter.http.webconfig import WebConfig
from spark_exporter.settings import ConfigError, ExporterConfig
from spark_exporter.settings.node_exporter import COLLECTORS, FLAGS, flag_kind

CFG = ExporterConfig(values={}, collectors={})



def config(*argv: str, env: dict[str, str] | None = None) -> ExporterConfig:
    return load_config(list(argv), env or {})


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, [ln for ln in captured.err.splitlines() if ln.strip()]


class TestFlagNames:
    def test_every_collector_option_is_a_node_exporter_flag(self) -> None:
        """Each option of a node_exporter collector of ours is spelled as node_exporter's flag."""
        schema = exporter_schema()
        ours = {k for k, o in schema.options.items()
                if k.startswith("collector.") and k.count(".") >= 2 and k.split(".")[1] in COLLECTORS}
        assert ours, "no collector options found"
        assert sorted(ours - set(FLAGS)) == []
        # powersupplyclass's option is node_exporter's collector.powersupply.*, not collector.powersupplyclass.*
        assert "collector.powersupply.ignored-supplies" in schema.options

    def test_every_node_exporter_collector_we_register_keeps_its_default(self) -> None:
        """A collector that node_exporter also has is on or off by default exactly as there."""
        registry = load_all()
        differ = {n: cls.default_enabled for n, cls in registry.items()
                  if n in COLLECTORS and cls.default_enabled != COLLECTORS[n]}
        assert differ == {}

    def test_environment_and_file_follow_the_flag(self, tmp_path: Path) -> None:
        """--collector.netdev.device-exclude is SPARK_EXPORTER_COLLECTOR_NETDEV_DEVICE_EXCLUDE and a nested YAML key."""
        assert config(env={"SPARK_EXPORTER_COLLECTOR_NETDEV_DEVICE_EXCLUDE": "^lo$"})[
            "collector.netdev.device-exclude"] == "^lo$"
        f = tmp_path / "c.yml"
        f.write_text("collector:\n  netdev:\n    device-exclude: ^eth\n  stat.softirq: true\n")
        cfg = config(f"--config.file={f}")
        assert cfg["collector.netdev.device-exclude"] == "^eth" and cfg["collector.stat.softirq"] is True
        assert cfg.warnings == []

    def test_web_flags_and_defaults(self) -> None:
        """--web.max-requests defaults to node_exporter's 40; --web.disable-exporter-metrics is off."""
        cfg = config()
        assert cfg["web.max-requests"] == 40 and cfg["web.disable-exporter-metrics"] is False
        cfg = config("--web.max-requests=0", "--web.disable-exporter-metrics")
        assert cfg["web.max-requests"] == 0 and cfg["web.disable-exporter-metrics"] is True
        with pytest.raises(ConfigError, match="web.max-requests"):
            config("--web.max-requests=-1")


class TestDeprecatedSpellings:
    @pytest.mark.parametrize(("argv", "key", "value"), [
        (["--netdev.device-exclude=^lo$"], "collector.netdev.device-exclude", "^lo$"),
        (["--stat.softirq"], "collector.stat.softirq", True),
        (["--no-cpu.info"], "collector.cpu.info", False),
        (["--textfile.directory=/a"], "collector.textfile.directory", "/a"),
        (["--powersupplyclass.ignored-supplies=^AC$"], "collector.powersupply.ignored-supplies", "^AC$"),
        (["--collector.filesystem.ignored-mount-points=^/x"], "collector.filesystem.mount-points-exclude", "^/x"),
        (["--collector.diskstats.ignored-devices=^ram"], "collector.diskstats.device-exclude", "^ram"),
        (["--collector.netdev.device-blacklist=^lo$"], "collector.netdev.device-exclude", "^lo$"),
        (["--collector.netdev.device-whitelist=^eth"], "collector.netdev.device-include", "^eth"),
    ])
    def test_old_flag_works_with_one_warning(self, argv: list[str], key: str, value: object) -> None:
        """An old spelling sets the new key and leaves one warning line naming both spellings."""
        cfg = config(*argv)
        assert cfg[key] == value
        assert len(cfg.warnings) == 1 and "deprecated" in cfg.warnings[0] and f"--{key}" in cfg.warnings[0]

    def test_new_spelling_wins(self) -> None:
        """Given both, the new spelling's value is used."""
        assert config("--netdev.device-exclude=old", "--collector.netdev.device-exclude=new")[
            "collector.netdev.device-exclude"] == "new"

    def test_old_environment_variable_and_file_key(self, tmp_path: Path) -> None:
        """SPARK_EXPORTER_NETDEV_DEVICE_EXCLUDE and a file key netdev.device-exclude still work, each with a warning."""
        cfg = config(env={"SPARK_EXPORTER_NETDEV_DEVICE_EXCLUDE": "^lo$"})
        assert cfg["collector.netdev.device-exclude"] == "^lo$"
        assert cfg.warnings == ["environment variable SPARK_EXPORTER_NETDEV_DEVICE_EXCLUDE is deprecated: use "
                                "SPARK_EXPORTER_COLLECTOR_NETDEV_DEVICE_EXCLUDE"]
        f = tmp_path / "c.yml"
        f.write_text("netdev:\n  device-exclude: ^eth\n")
        cfg = config(f"--config.file={f}")
        assert cfg["collector.netdev.device-exclude"] == "^eth"
        assert len(cfg.warnings) == 1 and "'netdev.device-exclude' is deprecated" in cfg.warnings[0]

    def test_check_config_prints_the_warning_on_stderr(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--check-config shows the new key's value and one warning line per old spelling."""
        code, out, err = run(["--stat.softirq", "--check-config"], capsys)
        assert code == 0 and "collector.stat.softirq=true  # flag" in out
        assert err == ["spark-exporter: warning: flag --stat.softirq is deprecated: use --collector.stat.softirq"]


class TestNodeExporterFlagsWeLack:
    def test_end_to_end_flags_are_accepted_verbatim(self) -> None:
        """node_exporter's end-to-end flag set resolves; each flag we do not implement is one warning naming it."""
        enabled = ("--collector.bcache", "--collector.wifi", "--collector.sysctl", "--no-collector.selinux",
                   "--no-collector.timex")
        cfg = config(*enabled, *E2E_COLLECTOR_FLAGS, "--log.level=debug")
        implemented = set(exporter_schema().options) | {f"collector.{n}" for n in load_all()}
        given = [a.split("=", 1)[0] for a in (*enabled, *E2E_COLLECTOR_FLAGS)]
        lacking = [g for g in given if g.removeprefix("--").removeprefix("no-") not in implemented]
        assert lacking, "every e2e flag is implemented: the check is empty"
        named = [w.split()[1] for w in cfg.warnings]
        assert sorted(named) == sorted(set(lacking))  # one line per flag, even one given three times
        assert all("ignored" in w for w in cfg.warnings)
        assert cfg["collector.cpu.info"] is True and cfg["collector.stat.softirq"] is True
        assert cfg["collector.netclass.ignored-devices"] == "(dmz|int)"

    @pytest.mark.parametrize("argv", [
        ["--collector.qdisc.fixtures", "collector/fixtures/qdisc/"],
        ["--collector.ntp.server=1.2.3.4"],
        ["--no-collector.ntp.server-is-local"],
        ["--collector.sysctl.include", "a", "--collector.sysctl.include=b"],
        ["--runtime.gomaxprocs", "2"],
    ])
    def test_value_given_as_the_next_word_is_dropped_with_its_flag(self, argv: list[str]) -> None:
        """A value after a space belongs to the ignored flag, not to the command line."""
        cfg = config(*argv, "--collector.stat.softirq")
        assert cfg["collector.stat.softirq"] is True
        assert len(cfg.warnings) == len({a.split("=")[0] for a in argv if a.startswith("--")})

    def test_socket_activation_is_refused_not_ignored(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--web.systemd-socket would leave the scraped port to a socket unit while we bind our own default:
        one line naming the way out and exit 2; its off form (the default) is only a warning."""
        code, _, err = run(["--web.systemd-socket", "--check-config"], capsys)
        assert code == 2 and len(err) == 1 and "--web.listen-address" in err[0] and "not supported" in err[0]
        assert [w.split()[1] for w in config("--no-web.systemd-socket").warnings] == ["--no-web.systemd-socket"]

    @pytest.mark.parametrize("flag", ["--collector.bogus", "--no-collector.bogus", "--collector.netdev.bogus=1",
                                      "--bogus", "--web.bogus=1", "--no-collector.ntp.server=x"])
    def test_other_unknown_flags_are_errors(self, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A flag node_exporter does not have either is one error line and exit status 2."""
        code, _, err = run([flag, "--check-config"], capsys)
        assert code == 2 and len(err) == 1 and "unknown flag" in err[0], err

    @pytest.mark.parametrize("argv", [
        ["--web.listen-address=127.0.0.1:9100", "--web.listen-address=[::1]:9100"],
        ["--web.listen-address", "127.0.0.1:9100", "--web.listen-address", "127.0.0.1:9101"],
        ["api", "--web.listen-address=127.0.0.1:9100", "--web.listen-address=127.0.0.1:9101"],
    ])
    def test_a_second_listen_address_is_refused_not_dropped(self, argv: list[str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
        """node_exporter listens on every --web.listen-address; ours, which serves one, refuses a second
        with one line (exit 2) instead of silently serving only the last."""
        code, out, err = run([*argv, "--check-config"], capsys)
        assert code == 2 and len(err) == 1, err
        assert "--web.listen-address: given more than once" in err[0] and "listens on each" in err[0]

    def test_one_listen_address_still_resolves(self) -> None:
        """One --web.listen-address is taken as given (the refusal counts occurrences, not values)."""
        assert config("--web.listen-address=[::1]:9100").listen_address == "[::1]:9100"

    @pytest.mark.parametrize("argv", [
        ["--collector.netdev.device-include=^eth", "--collector.netdev.device-exclude=^lo$"],
        ["--collector.netdev.device-include=^eth", "--collector.netdev.device-blacklist=^lo$"],
    ])
    def test_check_config_refuses_what_start_up_refuses(self, argv: list[str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """netdev's device-include with device-exclude (node_exporter refuses the pair) fails --check-config
        with the one line start-up gives, not only when the collector is built."""
        code, _, err = run([*argv, "--check-config"], capsys)
        errors = [e for e in err if "error:" in e]
        assert code == 2 and len(errors) == 1, err
        assert "--collector.netdev.device-include and --collector.netdev.device-exclude are mutually exclusive" \
            in errors[0]
        assert config("--collector.netdev.device-include=^eth")["collector.netdev.device-include"] == "^eth"

    @pytest.mark.parametrize(("value", "words"), [
        ("[[:alpha:]]+", ["ambiguous regular expression", "Go syntax"]),  # RE2's POSIX class: a set of ':ahlp' in re
        ("[a--b]", ["ambiguous regular expression", "set difference"]),
        ("((", ["invalid regular expression"]),
    ])
    def test_regex_re_reads_otherwise_is_one_error_line(self, value: str, words: list[str],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
        """A pattern Python's re would read other than as written (it warns, FutureWarning) is refused with one
        line and exit 2, not accepted with a Python warning on stderr and another meaning than node_exporter's."""
        code, _, err = run([f"--collector.netdev.device-exclude={value}", "--check-config"], capsys)
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith("spark-exporter: error: --collector.netdev.device-exclude: ")
        assert all(w in err[0] for w in words), err[0]

    def test_flag_kinds(self) -> None:
        """The catalogue knows switches, value flags and repeatable flags."""
        assert flag_kind("collector.zfs") == "bool" and flag_kind("collector.qdisc.fixtures") == "value"
        assert flag_kind("collector.sysctl.include") == "list" and flag_kind("collector.nope") is None


class TestDisableDefaults:
    def test_only_named_collectors_run(self) -> None:
        """--collector.disable-defaults turns every collector off except those given with --collector.NAME."""
        cfg = config("--collector.disable-defaults", "--collector.cpu", "--collector.meminfo")
        assert cfg.enabled_collectors == ["cpu", "meminfo"]

    def test_explicit_switches_hold_in_every_source(self, tmp_path: Path) -> None:
        """A switch from the environment or the file counts as given; default-off collectors stay off."""
        f = tmp_path / "c.yml"
        f.write_text("collector.loadavg: true\n")
        cfg = config("--collector.disable-defaults", f"--config.file={f}",
                     env={"SPARK_EXPORTER_COLLECTOR_STAT": "true"})
        assert cfg.enabled_collectors == ["loadavg", "stat"]

    def test_without_it_defaults_hold(self) -> None:
        """Without the flag every default-enabled collector runs and --no-collector.NAME turns one off."""
        cfg = config("--no-collector.cpu")
        assert "cpu" not in cfg.enabled_collectors and "meminfo" in cfg.enabled_collectors


# --- collect[] / exclude[] -----------------------------------------------------------------------------------


class Named(Collector):
    """A collector serving one gauge ``test_<name>``; counts its calls."""

    def __init__(self, name: str, gate: threading.Event | None = None) -> None:
        self.name = name  # type: ignore[misc]
        super().__init__(CFG, Paths())
        self.calls = 0
        self.gate = gate

    def collect(self) -> Iterable[Metric]:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(30)
        return [GaugeMetricFamily(f"test_{self.name}", "A gauge.", value=1.0)]


def served(body: bytes) -> set[str]:
    fams = parse_metrics(body.decode())
    return {s.labels["collector"] for s in fams["node_scrape_collector_success"].samples}


class TestCollectExclude:
    """Collectors ``cpu``, ``meminfo`` and ``loadavg`` are enabled; ``zfs`` is a node_exporter collector."""

    @pytest.fixture
    def loop(self) -> Iterable[Collection]:
        loop = Collection([Named("cpu"), Named("meminfo"), Named("loadavg")], timeout=5, min_age=0)
        yield loop
        loop.stop()

    @pytest.mark.parametrize(("query", "want"), [
        ("", {"cpu", "meminfo", "loadavg"}),
        ("?collect[]=cpu", {"cpu"}),
        ("?collect[]=cpu&collect[]=loadavg", {"cpu", "loadavg"}),
        ("?exclude[]=cpu", {"meminfo", "loadavg"}),
        ("?exclude[]=cpu&exclude[]=zfs", {"meminfo", "loadavg"}),
    ])
    async def test_selection(self, loop: Collection, query: str, want: set[str]) -> None:
        """collect[] keeps, exclude[] drops collectors, and the scrape health series follow them."""
        async with TestClient(TestServer(build_app(loop, "/metrics", WebConfig()))) as client:
            resp = await client.get("/metrics" + query)
            assert resp.status == 200
            body = await resp.read()
        assert served(body) == want
        assert {n.removeprefix("test_") for n in parse_metrics(body.decode()) if n.startswith("test_")} == want

    async def test_text_file_drop_counts_only_where_a_text_file_collector_runs(self) -> None:
        """spark_exporter_textfile_series_dropped is the textfile collector's: served when it is selected,
        absent from a collect[] scrape without it."""
        textfile = Named("textfile")
        textfile.foreign = True  # type: ignore[misc]
        loop = Collection([Named("cpu"), textfile], timeout=5, min_age=0)
        try:
            async with TestClient(TestServer(build_app(loop, "/metrics", WebConfig()))) as client:
                names = {q: set(parse_metrics((await (await client.get("/metrics" + q)).read()).decode()))
                         for q in ("", "?collect[]=cpu", "?collect[]=textfile")}
        finally:
            loop.stop()
        dropped = "spark_exporter_textfile_series_dropped"
        assert dropped in names[""] and dropped in names["?collect[]=textfile"]
        assert dropped not in names["?collect[]=cpu"]

    @pytest.mark.parametrize(("query", "message"), [
        ("?collect[]=cpu&exclude[]=meminfo", "Combined collect and exclude queries are not allowed."),
        ("?collect[]=bogus", "missing collector: bogus"),
        ("?collect[]=zfs", "disabled collector: zfs"),
        ("?collect[]=textfile", "disabled collector: textfile"),
        ("?exclude[]=bogus", "missing collector: bogus"),
    ])
    async def test_bad_selection_is_a_400(self, loop: Collection, query: str, message: str) -> None:
        """Unknown or disabled names in collect[], unknown names in exclude[], or both parameters: 400, JSON body."""
        async with TestClient(TestServer(build_app(loop, "/metrics", WebConfig()))) as client:
            resp = await client.get("/metrics" + query)
            assert resp.status == 400
            body = await resp.json()
        assert body["status"] == "error" and body["error"] == message

    async def test_same_selection_shares_one_collection(self) -> None:
        """Concurrent scrapes with one selection share a collection; another selection gets its own."""
        gate = threading.Event()
        cpu, mem = Named("cpu", gate), Named("meminfo")
        loop = Collection([cpu, mem], timeout=10, min_age=0)
        try:
            a = asyncio.ensure_future(loop.scrape(loop.selection(["cpu"])))
            b = asyncio.ensure_future(loop.scrape(loop.selection(["cpu"])))
            c = asyncio.ensure_future(loop.scrape(loop.selection(["meminfo"])))
            await asyncio.sleep(0.1)
            gate.set()
            sa, sb, sc = await asyncio.gather(a, b, c)
            assert sa is sb and sc is not sa
            assert (cpu.calls, mem.calls) == (1, 1)
            assert served(sa.body) == {"cpu"} and served(sc.body) == {"meminfo"}
        finally:
            gate.set()
            loop.stop()

    def test_selection_of_everything_is_the_unfiltered_key(self, loop: Collection) -> None:
        """collect[] naming every enabled collector shares the unfiltered collection."""
        assert loop.selection(["cpu", "meminfo", "loadavg"]) is None
        assert loop.selection(["cpu"]) == frozenset({"cpu"})


class TestExporterMetricsAndLimits:
    async def test_disable_exporter_metrics_drops_process_families(self) -> None:
        """process_* is served by default and not with exporter_metrics off; node_scrape_* stays."""
        for on in (True, False):
            loop = Collection([Named("cpu")], timeout=5, min_age=0, exporter_metrics=on)
            try:
                names = set(parse_metrics((await loop.scrape()).body.decode()))
            finally:
                loop.stop()
            assert any(n.startswith("process_") for n in names) is on
            assert "node_scrape_collector_success" in names

    async def test_max_requests_bounds_collections_not_shared_scrapes(self) -> None:
        """With --web.max-requests=1, while one collection runs, a scrape needing another is a 503 with the
        JSON body; one that shares the running collection is served."""
        gate = threading.Event()
        loop = Collection([Named("cpu", gate), Named("meminfo")], timeout=10, min_age=0)
        try:
            async with TestClient(TestServer(build_app(loop, "/metrics", WebConfig(), max_requests=1))) as client:
                first = asyncio.ensure_future(client.get("/metrics"))
                await asyncio.sleep(0.2)
                shared = asyncio.ensure_future(client.get("/metrics"))
                other = await client.get("/metrics?collect[]=meminfo")
                assert other.status == 503
                assert "Limit of concurrent requests reached (1)" in (await other.json())["error"]
                gate.set()
                assert (await first).status == 200 and (await shared).status == 200
                assert (await client.get("/metrics?collect[]=meminfo")).status == 200
        finally:
            gate.set()
            loop.stop()
