"""Configuration: one model for every command, precedence, --check-config, --help, and hostile files."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from helpers.hostile_files import (
    MALFORMED,
    check_config,
)
from spark_exporter import cli
from spark_exporter.exporter.daemon import load_config
from spark_exporter.settings import (
    ConfigError,
    api_schema,
    format_duration,
    load_yaml_file,
    parse_duration,
    query_schema,
    read_token_file,
)

REPO = Path(__file__).resolve().parents[2]
INVENTORY = REPO / "tests" / "fixtures" / "inventory" / "two-nodes.yml"
HASH = "$2y$04$" + "a" * 53  # well-formed bcrypt: cost 04, 22 characters of salt, 31 of hash

# Every command, as cli.main's argv prefix, and one setting of each that a file may hold.
COMMANDS: dict[str, list[str]] = {
    "daemon": [],
    "api": ["api"],
    "query": ["query"],
    "config prometheus": ["config", "prometheus"],
    "demo": ["demo"],
}


def main_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    """cli.main in this process: exit status, stdout, and the non-empty stderr lines."""
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, [ln for ln in captured.err.splitlines() if ln.strip()]


class TestDurations:
    @pytest.mark.parametrize(("text", "seconds"), [("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0),
                                                   ("0", 0.0)])
    def test_parses_prometheus_durations(self, text: str, seconds: float) -> None:
        """Prometheus-style durations parse to seconds."""
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["5", "5x", "s", "", "-1s", "1.5.2s", "5s junk"])
    def test_rejects_malformed_durations(self, text: str) -> None:
        """Anything that is not a duration is rejected."""
        with pytest.raises(ValueError):
            parse_duration(text)

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e30, 5, True, None, [1], "400d", "1s1m"])
    def test_rejects_unbounded_or_unit_less_values(self, value: object) -> None:
        """NaN, infinity, 1e30, bare numbers, other types, more than a year and misordered units are refused."""
        with pytest.raises(ValueError):
            parse_duration(value)

    @pytest.mark.parametrize(("seconds", "text"), [(5.0, "5s"), (0.5, "500ms"), (90.0, "1m30s"), (0.0, "0s"),
                                                   (86400.0, "1d")])
    def test_formats_as_written(self, seconds: float, text: str) -> None:
        """A duration prints in Prometheus syntax, and parses back to the same seconds."""
        assert format_duration(seconds) == text
        assert parse_duration(text) == seconds


class TestPrecedence:
    def test_flag_beats_env_beats_file_beats_default(self, tmp_path: Path) -> None:
        """A flag overrides the environment, which overrides the file, which overrides the default."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collect:\n  min-age: 7s\nlog:\n  level: warn\nweb:\n  telemetry-path: /m\n")
        env = {"SPARK_EXPORTER_COLLECT_MIN_AGE": "9s", "SPARK_EXPORTER_LOG_LEVEL": "error"}
        cfg = load_config([f"--config.file={cfg_file}", "--collect.min-age=3s"], env)
        assert cfg["collect.min-age"] == 3.0
        assert cfg["log.level"] == "error"
        assert cfg.telemetry_path == "/m"
        assert cfg["log.format"] == "logfmt"
        assert cfg.sources["collect.min-age"] == "flag"

    def test_config_file_from_environment(self, tmp_path: Path) -> None:
        """SPARK_EXPORTER_CONFIG_FILE names the config file when no flag does."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collect.min-age: 11s\n")
        cfg = load_config([], {"SPARK_EXPORTER_CONFIG_FILE": str(cfg_file)})
        assert cfg["collect.min-age"] == 11.0

    def test_collector_switches(self, tmp_path: Path) -> None:
        """--no-collector.NAME disables a collector; the file and environment can switch them too."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collector:\n  loadavg: false\n")
        cfg = load_config([f"--config.file={cfg_file}"], {})
        assert "loadavg" not in cfg.enabled_collectors
        cfg = load_config([f"--config.file={cfg_file}", "--collector.loadavg"], {})
        assert "loadavg" in cfg.enabled_collectors
        cfg = load_config([], {"SPARK_EXPORTER_COLLECTOR_LOADAVG": "false"})
        assert "loadavg" not in cfg.enabled_collectors

    def test_collection_timing_defaults(self) -> None:
        """A collection is reused for 1s by default, and each collector has a fixed 5s deadline."""
        cfg = load_config([], {})
        assert (cfg["collect.min-age"], cfg["collect.timeout"]) == (1.0, 5.0)
        assert load_config(["--collect.min-age=0s"], {})["collect.min-age"] == 0.0


class TestErrors:
    @pytest.mark.parametrize(("content", "needle"), [
        ("collect:\n  min-age: [5s\n", "invalid YAML (line"),
        ("colect:\n  min-age: 5s\n", "unknown key 'colect.min-age'"),
        ("collect:\n  min-age: fast\n", "key 'collect.min-age': invalid duration"),
        ("log:\n  level: loud\n", "key 'log.level': must be one of"),
        ("collector:\n  loadavg: maybe\n", "key 'collector.loadavg': expected true or false"),
        ("web:\n  listen-address: nowhere\n", "key 'web.listen-address': invalid listen address"),
        ("- a\n- b\n", "top level must be a mapping"),
    ])
    def test_bad_file_names_file_and_key(self, tmp_path: Path, content: str, needle: str) -> None:
        """A bad config file raises one error naming the file and the key."""
        cfg_file = tmp_path / "bad.yml"
        cfg_file.write_text(content)
        with pytest.raises(ConfigError) as exc:
            load_config([f"--config.file={cfg_file}"], {})
        assert str(cfg_file) in str(exc.value)
        assert needle in str(exc.value)

    def test_bad_environment_names_variable(self) -> None:
        """A bad environment value names the variable."""
        with pytest.raises(ConfigError, match="SPARK_EXPORTER_COLLECT_MIN_AGE"):
            load_config([], {"SPARK_EXPORTER_COLLECT_MIN_AGE": "soon"})

    def test_zero_timeout_rejected(self) -> None:
        """A per-collector deadline of zero is refused."""
        with pytest.raises(ConfigError, match="collect.timeout"):
            load_config(["--collect.timeout=0s"], {})

    @pytest.mark.parametrize(("value", "ok"), [("1ms", False), ("999ms", False), ("0s", True), ("1s", True)])
    def test_pcie_interval_is_off_or_at_least_a_second(self, value: str, ok: bool) -> None:
        """A PCIe sampling interval is 0s (off) or at least 1s: a sampler running almost continuously is refused."""
        if ok:
            assert load_config([f"--gpu.pcie-interval={value}"], {})["gpu.pcie-interval"] >= 0
        else:
            with pytest.raises(ConfigError, match="gpu.pcie-interval.*0s \\(off\\) or at least 1s"):
                load_config([f"--gpu.pcie-interval={value}"], {})


class TestApiSettings:
    def test_precedence_and_check_config(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """The API reads flag > SPARK_EXPORTER_* > file > default, with the daemon's key names."""
        cfg_file = tmp_path / "api.yml"
        cfg_file.write_text("prometheus:\n  url: http://file:9090\n  timeout: 7s\napi:\n  cache-ttl: 30s\n"
                            "  cors-origin: [https://a.example, https://b.example]\n")
        monkeypatch.setenv("SPARK_EXPORTER_PROMETHEUS_URL", "http://env:9090")
        monkeypatch.setenv("SPARK_EXPORTER_API_CACHE_TTL", "1m")
        code, out, err = main_in_process(["api", f"--config.file={cfg_file}", "--api.cache-ttl=2s",
                                          "--check-config"], capsys)
        assert (code, err) == (0, [])
        got = check_config(out)
        assert got["prometheus.url"] == ("http://env:9090", "environment")
        assert got["prometheus.timeout"] == ("7s", f"config file {cfg_file}")
        assert got["api.cache-ttl"] == ("2s", "flag")
        assert got["api.cors-origin"] == ("https://a.example,https://b.example", f"config file {cfg_file}")
        assert got["api.rate-limit"] == ("10", "default")
        assert got["web.listen-address"] == ("127.0.0.1:19401", "default")
        assert got["api.token-file"] == ("none", "default")

    def test_repeated_cors_flag(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--api.cors-origin repeats; a value that is not an origin is one error naming the flag."""
        code, out, _ = main_in_process(["api", "--api.cors-origin=https://a.example",
                                        "--api.cors-origin=http://b.example:8080", "--check-config"], capsys)
        assert code == 0
        assert check_config(out)["api.cors-origin"] == ("https://a.example,http://b.example:8080", "flag")
        code, _, err = main_in_process(["api", "--api.cors-origin=https://a.example/", "--check-config"], capsys)
        assert code == 2 and len(err) == 1 and "--api.cors-origin" in err[0]

    def test_open_bind_needs_a_token_even_for_check_config(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--check-config runs the same validation as start-up: a network bind without a token is refused."""
        code, _, err = main_in_process(["api", "--web.listen-address=0.0.0.0:19401", "--check-config"], capsys)
        assert code == 2 and len(err) == 1 and "--api.token-file" in err[0]


    def test_open_bind_with_basic_auth_users_is_allowed(self, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """basic_auth_users in the web config protect a network bind as a token file does."""
        web = tmp_path / "web.yml"
        web.write_text("basic_auth_users:\n  admin: $2b$04$C7BW4C5zPMnbvLzmBmsp2ehqAYXAKOUSnHJJp0W8Ri8yZ0XEDgILG\n")
        code, out, err = main_in_process(["api", "--web.listen-address=0.0.0.0:19401", f"--web.config.file={web}",
                                          "--check-config"], capsys)
        assert (code, err) == (0, [])
        assert check_config(out)["web.listen-address"] == ("0.0.0.0:19401", "flag")


    def test_token_and_basic_auth_users_together_are_refused(self, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
        """A token file with basic_auth_users is one error, since both need the one Authorization header."""
        web = tmp_path / "web.yml"
        web.write_text("basic_auth_users:\n  admin: $2b$04$C7BW4C5zPMnbvLzmBmsp2ehqAYXAKOUSnHJJp0W8Ri8yZ0XEDgILG\n")
        token = tmp_path / "token"
        token.write_text("t" * 32)
        token.chmod(0o600)
        code, _, err = main_in_process(["api", f"--web.config.file={web}", f"--api.token-file={token}",
                                        "--check-config"], capsys)
        assert code == 2 and len(err) == 1
        assert "--api.token-file" in err[0] and "basic_auth_users" in err[0]


class TestQuerySettings:
    @pytest.mark.parametrize("argv", [
        ["query", "--prometheus.url=http://flag:1", "--check-config", "nodes"],
        ["query", "nodes", "--prometheus.url=http://flag:1", "--check-config"],
    ])
    def test_flags_before_or_after_the_subcommand(self, argv: list[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        """Settings flags work on either side of the subcommand and beat the environment and file."""
        cfg_file = tmp_path / "q.yml"
        cfg_file.write_text(f"inventory: {INVENTORY}\nformat: json\nprometheus:\n  url: http://file:1\n")
        monkeypatch.setenv("SPARK_EXPORTER_CONFIG_FILE", str(cfg_file))
        monkeypatch.setenv("SPARK_EXPORTER_PROMETHEUS_SCRAPE_INTERVAL", "30s")
        code, out, err = main_in_process(argv, capsys)
        assert (code, err) == (0, [])
        got = check_config(out)
        assert got["config.file"] == (str(cfg_file), "environment")
        assert got["prometheus.url"] == ("http://flag:1", "flag")
        assert got["prometheus.scrape-interval"] == ("30s", "environment")
        assert got["format"] == ("json", f"config file {cfg_file}")
        assert got["inventory"] == (str(INVENTORY), f"config file {cfg_file}")

    def test_unknown_key_is_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A key the query command does not have is one error naming file and key."""
        cfg_file = tmp_path / "q.yml"
        cfg_file.write_text("api:\n  cache-ttl: 5s\n")
        code, _, err = main_in_process(["query", f"--config.file={cfg_file}", "--check-config"], capsys)
        assert code == 2 and err == [f"spark-exporter query: error: config file {cfg_file}: unknown key "
                                     "'api.cache-ttl'"]


    def test_bad_url_names_its_source(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A Prometheus URL that is not http(s) is one error naming the file and key it came from."""
        cfg_file = tmp_path / "q.yml"
        cfg_file.write_text("prometheus:\n  url: ftp://x\n")
        code, _, err = main_in_process(["query", f"--config.file={cfg_file}", "--check-config"], capsys)
        assert code == 2 and len(err) == 1
        assert err[0].startswith(f"spark-exporter query: error: config file {cfg_file}: key 'prometheus.url': ")


class TestOneModel:
    def test_prometheus_options_are_defined_once(self) -> None:
        """api and query share the very same --prometheus.* and --inventory option objects."""
        api, query = api_schema().options, query_schema().options
        for key in ("prometheus.url", "prometheus.timeout", "prometheus.scrape-interval", "inventory"):
            assert api[key] is query[key]

    @pytest.mark.parametrize(("module", "forbidden"), [
        ("spark_exporter/commands/query.py", ("spark_exporter.query.api", "spark_exporter.commands.api")),
        ("spark_exporter/commands/demo.py", ("spark_exporter.commands.query",)),
    ])
    def test_no_module_imports_a_sibling_cli_or_server(self, module: str, forbidden: tuple[str, ...]) -> None:
        """The query CLI does not import the API server, and the demo does not import the query CLI."""
        path = REPO / module
        package = ".".join(Path(module).with_suffix("").parts[:-1])
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module is not None:
                base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                imported.add(f"{base}.{node.module}" if node.level else node.module)
        assert imported and not imported & set(forbidden)


class TestConfigPrometheusSettings:
    def test_inventory_and_intervals_from_environment_and_file(self, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
        """The inventory may come from the environment and the intervals from a file."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("scrape-interval: 30s\nrule-files: [/r/*.yml]\n")
        monkeypatch.setenv("SPARK_EXPORTER_INVENTORY", str(INVENTORY))
        code, out, err = main_in_process(["config", "prometheus", f"--config.file={cfg_file}"], capsys)
        assert (code, err) == (0, [])
        import yaml
        doc = yaml.safe_load(out)
        assert doc["global"]["scrape_interval"] == doc["global"]["evaluation_interval"] == "30s"
        assert doc["rule_files"] == ["/r/*.yml"]
        code, out, _ = main_in_process(["config", "prometheus", f"--config.file={cfg_file}",
                                        "--evaluation-interval=1m", "--check-config"], capsys)
        got = check_config(out)
        assert got["inventory"] == (str(INVENTORY), "environment")
        assert got["scrape-interval"] == ("30s", f"config file {cfg_file}")
        assert got["evaluation-interval"] == ("1m", "flag")


class TestDemoSettings:
    def test_precedence_and_check_config(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """The demo's options follow the same precedence and print the same --check-config lines."""
        cfg_file = tmp_path / "d.yml"
        cfg_file.write_text("nodes: 3\nrefresh: 5s\n")
        monkeypatch.setenv("SPARK_EXPORTER_NODES", "4")
        code, out, err = main_in_process(["demo", f"--config.file={cfg_file}", "--duration=10m", "--check-config"],
                                         capsys)
        assert (code, err) == (0, [])
        got = check_config(out)
        assert got["nodes"] == ("4", "environment")
        assert got["refresh"] == ("5s", f"config file {cfg_file}")
        assert got["duration"] == ("10m", "flag")
        assert got["scrape-interval"] == ("2s", "default")


    @pytest.mark.parametrize(("profile", "says"), [("nope", "use gb10, h100"), ("h100x99", "between 1 and 64")])
    def test_unknown_profile_fails_the_configuration(self, profile: str, says: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        """A --profile the simulator does not know is a one-line error with exit 2 before any process starts."""
        code, _, err = main_in_process(["demo", f"--profile={profile}", "--check-config"], capsys)
        assert code == 2 and len(err) == 1
        assert err[0].startswith("spark-exporter demo: error: --profile:") and says in err[0]

    def test_profile_is_normalised(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A profile in any case is accepted and shown as the simulator spells it."""
        code, out, _ = main_in_process(["demo", "--profile=H100X8", "--check-config"], capsys)
        assert code == 0 and check_config(out)["profile"] == ("h100x8", "flag")


class TestCheckConfigEverywhere:
    @pytest.mark.parametrize("command", list(COMMANDS))
    def test_every_command_prints_values_with_sources(self, command: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        """Every command accepts --check-config and prints config.file and each key with a source."""
        code, out, err = main_in_process([*COMMANDS[command], "--check-config"], capsys)
        assert (code, err) == (0, [])
        got = check_config(out)
        assert got["config.file"] == ("none", "default")
        assert len(got) > 4
        assert all(source == "default" for _, source in got.values())
        assert all(value != "" and not re.fullmatch(r"\d+\.\d+", value) for value, _ in got.values())


# Every file the programs read: the command and flag that reads it.
FILE_FLAGS: dict[str, list[str]] = {
    "config file": ["--config.file"],
    "web config file": ["--web.config.file"],
    "inventory": ["query", "--inventory"],
    "token file": ["api", "--api.token-file"],
}


class TestHostileFiles:
    @pytest.mark.parametrize("kind", list(MALFORMED))
    @pytest.mark.parametrize("what", ["config file", "inventory", "web config file"])
    def test_yaml_loader_refuses_with_one_line(self, tmp_path: Path, kind: str, what: str) -> None:
        """Each malformed YAML file kind is one ConfigError naming the file, without hanging."""
        make, message = MALFORMED[kind]
        path = tmp_path / "f.yml"
        make(path)
        with pytest.raises(ConfigError) as exc:
            load_yaml_file(str(path), what)
        text = str(exc.value)
        assert text.startswith(f"{what} {path}: ") and message in text and "\n" not in text

    @pytest.mark.parametrize("what", list(FILE_FLAGS))
    @pytest.mark.parametrize("kind", list(MALFORMED))
    def test_every_file_flag_refuses_with_exit_2(self, tmp_path: Path, kind: str, what: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
        """Through each command, every malformed kind of every file is exit 2 and one line naming it."""
        make, message = MALFORMED[kind]
        if what == "token file" and kind in {"deep", "alias-bomb"}:
            message = "the token must be one word"  # not YAML: the same bytes are a bad token
        path = tmp_path / "f.yml"
        make(path)
        *command, flag = FILE_FLAGS[what]
        code, out, err = main_in_process([*command, f"{flag}={path}", "--check-config"], capsys)
        assert (code, out) == (2, "")
        assert len(err) == 1 and str(path) in err[0] and message in err[0], err


def web_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return path


TLS = "tls_server_config:\n  cert_file: s.crt\n  key_file: s.key\n"

# (file contents, key named in the error): accepted-but-broken values that must be refused.
BROKEN_WEB_CONFIGS = {
    "min above max": (TLS + "  min_version: TLS13\n  max_version: TLS12\n", "tls_server_config.min_version"),
    "version as list": (TLS + "  min_version: [TLS12]\n", "tls_server_config.min_version"),
    "cert_file number": ("tls_server_config:\n  cert_file: 123\n  key_file: s.key\n",
                         "tls_server_config.cert_file"),
    "cert_file list": ("tls_server_config:\n  cert_file: [a, b]\n  key_file: s.key\n",
                       "tls_server_config.cert_file"),
    "client_auth_type list": (TLS + "  client_auth_type: [x]\n", "tls_server_config.client_auth_type"),
    "header CRLF": ('http_server_config:\n  headers:\n    X-Frame-Options: "deny\\r\\nSet-Cookie: a=b"\n',
                    "http_server_config.headers.X-Frame-Options"),
    "header list": ("http_server_config:\n  headers:\n    X-Frame-Options: [deny, sameorigin]\n",
                    "http_server_config.headers.X-Frame-Options"),
    "bcrypt truncated": ("basic_auth_users:\n  alice: '$2y$10$abc'\n", "basic_auth_users.alice"),
    "bcrypt bad cost": (f"basic_auth_users:\n  alice: '{HASH.replace('$04$', '$99$')}'\n",
                        "basic_auth_users.alice"),
    "user with colon": (f"basic_auth_users:\n  'a:b': '{HASH}'\n", "basic_auth_users.a:b"),
}


class TestBrokenValues:
    @pytest.mark.parametrize("value", [".nan", ".inf", "1e30", "-1s", "[5s]"])
    @pytest.mark.parametrize(("argv", "key"), [
        ([], "collect.timeout"),
        ([], "collect.min-age"),
        (["api"], "api.cache-ttl"),
        (["query"], "prometheus.timeout"),
        (["demo"], "refresh"),
    ])
    def test_durations_beyond_reason(self, tmp_path: Path, argv: list[str], key: str, value: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
        """NaN, infinite, huge, negative or list durations in a file are one line naming file and key."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text(f"{key}: {value}\n")
        code, _, err = main_in_process([*argv, f"--config.file={cfg_file}", "--check-config"], capsys)
        assert code == 2 and len(err) == 1
        assert f"config file {cfg_file}: key {key!r}" in err[0]

    @pytest.mark.parametrize("case", list(BROKEN_WEB_CONFIGS))
    @pytest.mark.parametrize("command", [[], ["api"]])
    def test_web_config_values(self, tmp_path: Path, case: str, command: list[str],
                               capsys: pytest.CaptureFixture[str]) -> None:
        """Each broken web config value is refused by --check-config, naming the file and the key."""
        text, key = BROKEN_WEB_CONFIGS[case]
        path = web_config(tmp_path, text)
        code, _, err = main_in_process([*command, f"--web.config.file={path}", "--check-config"], capsys)
        assert code == 2 and len(err) == 1, err
        assert f"web config file {path}: key {key!r}" in err[0]

    @pytest.mark.parametrize("content", [b"\0" * 32, b"", b"   \n\t  \n", b"two words of sixteen chars",
                                         b"short", "\u00e9" .encode() * 20])
    def test_bad_tokens(self, tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
        """A token of NUL bytes, nothing, blanks, two words, too few or non-ASCII characters is refused."""
        path = tmp_path / "token"
        path.write_bytes(content)
        with pytest.raises(ConfigError, match="the token must be one word"):
            read_token_file(str(path))
        code, _, err = main_in_process(["api", f"--api.token-file={path}", "--check-config"], capsys)
        assert code == 2 and len(err) == 1 and str(path) in err[0]

    def test_good_token_is_read(self, tmp_path: Path) -> None:
        """A token of 16 or more printable characters is read with surrounding blanks removed."""
        path = tmp_path / "token"
        path.write_text("  0123456789abcdef-XYZ\n")
        assert read_token_file(str(path)) == "0123456789abcdef-XYZ"

    @pytest.mark.parametrize(("host", "message"), [
        ('"spark\\n.lan:9100"', "malformed host"),
        ('"spark.lan\\n:9100"', "malformed host"),
        ('"spark.lan:9100\\n"', "malformed address"),
        ('"spark lan:9100"', "malformed host"),
        ('"spark.lan:\\uff19\\uff11"', "malformed address"),
        ("[a, b]", "expected host:port"),
    ])
    def test_inventory_hosts(self, tmp_path: Path, host: str, message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
        """An inventory address with a newline, a blank, non-ASCII digits or a list is one line naming it."""
        path = tmp_path / "inv.yml"
        path.write_text(f"cluster: c\nnodes:\n  - name: spark-01\n    exporter: {host}\n")
        code, _, err = main_in_process(["config", "prometheus", f"--inventory={path}"], capsys)
        assert code == 2 and len(err) == 1, err
        assert f"inventory {path}: node 'spark-01': key 'exporter'" in err[0] and message in err[0]


