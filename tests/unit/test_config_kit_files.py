"""The files `spark-exporter config` writes (rules, Grafana provisioning, kit assets) and its settings,
without a process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from helpers.kit import ASSETS, repo_assets
from helpers.procs import REPO
from spark_exporter.commands.config import main as config_main
from spark_exporter.prometheus import kit


class TestKitAssets:
    def test_assets_are_the_repositorys_files(self) -> None:
        """Under the test environment's install the kit lists every repository rule and dashboard file."""
        found = {f"{kind}/{a.name}": a.data for kind in ASSETS for a in kit.assets(kind)}
        assert found == repo_assets()

    def test_unknown_kind_is_a_value_error(self) -> None:
        """Only rules and dashboards are asset kinds."""
        with pytest.raises(ValueError, match="unknown asset kind"):
            kit.asset_dir("alerts")


class TestWriteRules:
    def test_writes_every_rule_file_unchanged(self, tmp_path: Path) -> None:
        """The rule files land in the directory (created if missing), byte-for-byte."""
        written = kit.write_rules(tmp_path / "new" / "rules")
        assert {p.name: p.read_bytes() for p in written} == {
            k.removeprefix("rules/"): v for k, v in repo_assets().items() if k.startswith("rules/")}

    def test_refuses_to_overwrite_and_writes_nothing(self, tmp_path: Path) -> None:
        """With one target present and no force, nothing is written and the error names the file."""
        first = sorted((REPO / "rules").glob("*.yml"))[0].name
        (tmp_path / first).write_text("mine\n")
        with pytest.raises(kit.KitError, match=re.escape(first)):
            kit.write_rules(tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == [first]
        assert (tmp_path / first).read_text() == "mine\n"

    def test_force_replaces(self, tmp_path: Path) -> None:
        """With force an existing file is replaced by the packaged one."""
        first = sorted((REPO / "rules").glob("*.yml"))[0]
        (tmp_path / first.name).write_text("mine\n")
        kit.write_rules(tmp_path, force=True)
        assert (tmp_path / first.name).read_bytes() == first.read_bytes()


class TestWriteGrafana:
    def test_dashboards_and_provisioning(self, tmp_path: Path) -> None:
        """Dashboards are copied unchanged; the data source points at the URL, the provider at the dashboards."""
        kit.write_grafana(tmp_path, "http://prometheus.example:9090")
        dashboards = {p.name: p.read_bytes() for p in (tmp_path / "dashboards").iterdir()}
        assert dashboards == {k.removeprefix("dashboards/"): v for k, v in repo_assets().items()
                              if k.startswith("dashboards/")}
        ds = yaml.safe_load((tmp_path / "provisioning/datasources/spark-exporter.yaml").read_text())
        assert ds["apiVersion"] == 1
        assert [(d["type"], d["url"], d["uid"]) for d in ds["datasources"]] == [
            ("prometheus", "http://prometheus.example:9090", kit.DATASOURCE_UID)]
        prov = yaml.safe_load((tmp_path / "provisioning/dashboards/spark-exporter.yaml").read_text())
        (provider,) = prov["providers"]
        assert provider["type"] == "file" and Path(provider["options"]["path"]) == tmp_path / "dashboards"

    def test_relative_output_gives_an_absolute_provider_path(self, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """Grafana reads the provider path from its own working directory, so it is written absolute."""
        monkeypatch.chdir(tmp_path)
        kit.write_grafana("out", "http://localhost:9090")
        prov = yaml.safe_load((tmp_path / "out/provisioning/dashboards/spark-exporter.yaml").read_text())
        assert prov["providers"][0]["options"]["path"] == str(tmp_path / "out" / "dashboards")

    @pytest.mark.parametrize("url", ["prometheus:9090", "ftp://p:9090", "http://", "http://a b:9090", ""])
    def test_bad_prometheus_url_is_refused(self, tmp_path: Path, url: str) -> None:
        """A URL that is not http(s) with a host is a KitError, and nothing is written."""
        with pytest.raises(kit.KitError, match="invalid Prometheus URL"):
            kit.write_grafana(tmp_path, url)
        assert list(tmp_path.iterdir()) == []


class TestWriteFile:
    def test_refuses_existing_file_without_force(self, tmp_path: Path) -> None:
        """An existing file (e.g. the distribution's prometheus.yml) is kept unless force is given."""
        target = tmp_path / "prometheus.yml"
        target.write_text("# the distribution's\n")
        with pytest.raises(kit.KitError, match="--force"):
            kit.write_file(target, "global: {}\n")
        assert target.read_text() == "# the distribution's\n"
        kit.write_file(target, "global: {}\n", force=True)
        assert target.read_text() == "global: {}\n"


class TestConfigCommands:
    def test_config_rules_writes_and_exits_0(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``config rules --output DIR`` writes the files and prints how to load them."""
        assert config_main(["rules", "--output", str(tmp_path)]) == 0
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (REPO / "rules").glob("*.yml"))
        assert f"promtool check rules {tmp_path}/*.yml" in capsys.readouterr().out

    def test_second_run_is_refused_with_exit_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Running ``config grafana`` twice into one directory fails the second time with one error line."""
        assert config_main(["grafana", "--output", str(tmp_path)]) == 0
        capsys.readouterr()
        assert config_main(["grafana", "--output", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("spark-exporter config grafana: error: refusing to overwrite")
        assert config_main(["grafana", "--output", str(tmp_path), "--force"]) == 0


class TestConfigCommandSettings:
    """config rules|grafana take their settings like every command: flag > SPARK_EXPORTER_* > --config.file."""

    def test_check_config_prints_every_value_with_its_source(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
        """--check-config names the file, the environment and the flag as the sources, and writes nothing."""
        config = tmp_path / "config.yml"
        config.write_text("output: from-file\nprometheus: {url: 'http://file:9090'}\nforce: true\n")
        monkeypatch.setenv("SPARK_EXPORTER_PROMETHEUS_URL", "http://env:9090")
        monkeypatch.chdir(tmp_path)
        assert config_main(["grafana", "--config.file", str(config), "--check-config"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            f"config.file={config}  # flag",
            f"force=true  # config file {config}",
            f"output=from-file  # config file {config}",
            "prometheus.url=http://env:9090  # environment",
        ]
        assert config_main(["grafana", "--config.file", str(config), "--check-config",
                            "--prometheus.url", "http://flag:9090", "--no-force"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "prometheus.url=http://flag:9090  # flag" in lines and "force=false  # flag" in lines
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yml"]

    def test_data_source_url_comes_from_the_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
        """SPARK_EXPORTER_PROMETHEUS_URL and SPARK_EXPORTER_OUTPUT stand in for the flags."""
        monkeypatch.setenv("SPARK_EXPORTER_PROMETHEUS_URL", "http://env.example:9090")
        monkeypatch.setenv("SPARK_EXPORTER_OUTPUT", str(tmp_path / "g"))
        assert config_main(["grafana"]) == 0
        doc = yaml.safe_load((tmp_path / "g/provisioning/datasources/spark-exporter.yaml").read_text())
        assert doc["datasources"][0]["url"] == "http://env.example:9090"

    def test_rules_output_from_the_config_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """``output:`` in --config.file is where config rules writes; the flag overrides it."""
        config = tmp_path / "config.yml"
        config.write_text(f"output: {tmp_path / 'file-dir'}\n")
        assert config_main(["rules", "--config.file", str(config)]) == 0
        assert config_main(["rules", "--config.file", str(config), "--output", str(tmp_path / "flag-dir")]) == 0
        names = sorted(p.name for p in (REPO / "rules").glob("*.yml"))
        for sub in ("file-dir", "flag-dir"):
            assert sorted(p.name for p in (tmp_path / sub).iterdir()) == names

    def test_force_from_the_environment_replaces(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
        """A second config rules is refused, unless SPARK_EXPORTER_FORCE=true; --no-force beats that variable."""
        assert config_main(["rules", "--output", str(tmp_path)]) == 0
        assert config_main(["rules", "--output", str(tmp_path)]) == 2
        monkeypatch.setenv("SPARK_EXPORTER_FORCE", "true")
        assert config_main(["rules", "--output", str(tmp_path), "--no-force"]) == 2
        assert config_main(["rules", "--output", str(tmp_path)]) == 0

    @pytest.mark.parametrize("what", ["rules", "grafana", "prometheus"])
    def test_help_gives_each_setting_with_its_variable_and_one_default(self, what: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
        """``config WHAT --help`` lists --config.file, --check-config, --output and --force, each with help text."""
        with pytest.raises(SystemExit) as exit_:
            config_main([what, "--help"])
        assert exit_.value.code == 0
        options = capsys.readouterr().out.split("options:", 1)[1]
        entries = {e.split()[0].rstrip(","): " ".join(e.split()[1:]) for e in re.split(r"\n  (?=-)", options)[1:]}
        assert {"--config.file", "--check-config", "--output", "--force"} <= set(entries)
        for flag, text in entries.items():
            assert text, f"{flag} has no help text"
            assert len(re.findall(r"[(;] ?default\b", text)) <= 1, text
        assert "SPARK_EXPORTER_OUTPUT" in entries["--output"] and "default false" in entries["--force"]

    @pytest.mark.parametrize(("argv", "message"), [
        (["rules"], "spark-exporter config rules: error: --output DIR is required"),
        (["grafana", "--output", "g", "--prometheus.url", "ftp://x"],
         "spark-exporter config grafana: error: invalid Prometheus URL 'ftp://x'"),
        (["grafana", "--output", "g", "--force=maybe"], "spark-exporter config grafana: error: argument --force"),
        (["rules", "--output", "r", "--config.file", "missing.yml"], "spark-exporter config rules: error: "),
    ])
    def test_bad_settings_are_one_line_and_exit_2(self, argv: list[str], message: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        """A missing --output, a bad URL, a malformed flag or an unreadable config file: exit 2, nothing written."""
        monkeypatch.chdir(tmp_path)
        try:
            code = config_main(argv)
        except SystemExit as e:  # argparse's usage errors
            code = int(e.code or 0)
        assert code == 2
        err = capsys.readouterr().err.splitlines()
        assert err[-1].startswith(message)
        assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------
# The "done means": the built wheel, installed in a fresh venv, run from a temporary directory.
