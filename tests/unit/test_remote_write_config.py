"""``config remote-write``'s files, without processes (tests/integration/test_remote_write.py runs them)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from spark_exporter.commands.config import main as config_main
from spark_exporter.prometheus import remote_write as rw
from spark_exporter.prometheus.inventory import parse_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

INVENTORY = parse_inventory({"cluster": "lab", "nodes": [
    {"name": "spark-01", "exporter": "10.0.0.11:19400", "vllm": "10.0.0.11:8000"},
    {"name": "spark-02", "exporter": "10.0.0.12:19400"}]}, "test")
CLUSTER_STORE = rw.Store("http://vminsert:8480/insert/0/prometheus", "http://vmselect:8481/select/0/prometheus")


class TestFiles:
    def test_agents_scrape_what_prometheus_scrapes(self, tmp_path: Path) -> None:
        """vmagent.yml and prometheus-agent.yml hold the scrape jobs of config prometheus, unchanged."""
        files = rw.remote_write_files(INVENTORY, "inv.yml", tmp_path, rw.Store(), scrape_interval="15s")
        jobs = build_prometheus_config(INVENTORY, [], "15s", "15s")["scrape_configs"]
        for name in ("vmagent.yml", "prometheus-agent.yml"):
            doc = yaml.safe_load(files[tmp_path / name])
            assert doc["scrape_configs"] == jobs, name
            assert doc["global"] == {"scrape_interval": "15s", "external_labels": {"cluster": "lab"}}
            assert "rule_files" not in doc and "alerting" not in doc

    def test_cluster_store_urls(self, tmp_path: Path) -> None:
        """With vminsert/vmselect URLs, agents write to vminsert's write path, vmalert and the API read vmselect."""
        files = rw.remote_write_files(INVENTORY, "/etc/inv.yml", tmp_path, CLUSTER_STORE)
        agent = yaml.safe_load(files[tmp_path / "prometheus-agent.yml"])
        assert agent["remote_write"] == [{"url": "http://vminsert:8480/insert/0/prometheus/api/v1/write"}]
        argvs = {shlex.split(line)[0]: shlex.split(line) for line in files[tmp_path / "commands.sh"].decode()
                 .splitlines() if line and not line.startswith("#")}
        assert "-remoteWrite.url=http://vminsert:8480/insert/0/prometheus/api/v1/write" in argvs["vmagent"]
        assert {"-datasource.url=http://vmselect:8481/select/0/prometheus",
                "-remoteWrite.url=http://vminsert:8480/insert/0/prometheus",
                "-remoteRead.url=http://vmselect:8481/select/0/prometheus"} <= set(argvs["vmalert"])
        assert argvs["spark-exporter"][:4] == ["spark-exporter", "api",
                                               "--prometheus.url=http://vmselect:8481/select/0/prometheus",
                                               "--inventory=/etc/inv.yml"]

    def test_rules_are_the_packaged_rules(self, tmp_path: Path) -> None:
        """rules/ holds every packaged rule file byte for byte, for vmalert."""
        files = rw.remote_write_files(INVENTORY, "inv.yml", tmp_path, rw.Store())
        repo_rules = Path(__file__).resolve().parents[2] / "rules"
        for path in sorted(repo_rules.glob("*.yml")):
            assert files[tmp_path / "rules" / path.name] == path.read_bytes()

    @pytest.mark.parametrize("store", [rw.Store("vm:8428"), rw.Store(read_url="ftp://vm"),
                                       rw.Store("http://vm:8428/?x=1")])
    def test_bad_urls_are_refused(self, store: rw.Store, tmp_path: Path) -> None:
        """A URL that is not http(s) with a host, or that has a query, is a RemoteWriteError naming it."""
        with pytest.raises(rw.RemoteWriteError, match="invalid (write|read) URL"):
            rw.remote_write_files(INVENTORY, "inv.yml", tmp_path, store)

    @pytest.mark.parametrize("store", [rw.Store("http://vm:8428/api/v1/write"), rw.Store("http://vm:8428/api/v1/"),
                                       rw.Store(read_url="http://vm:8481/select/0/prometheus/api/v1/query")])
    def test_an_endpoint_instead_of_the_base_url_is_refused(self, store: rw.Store, tmp_path: Path) -> None:
        """A URL already ending in an API path (the usual remote_write URL) would be doubled by the agents
        (``/api/v1/write/api/v1/write``) and given to vmalert and the API as a query root: refused, naming it."""
        with pytest.raises(rw.RemoteWriteError, match="base URL, without /api/v1/"):
            rw.remote_write_files(INVENTORY, "inv.yml", tmp_path, store)


    @pytest.mark.parametrize("url", ["http://am:9093/api/v2/alerts", "http://am:9093/api/v2"])
    def test_an_alertmanager_endpoint_is_refused(self, url: str, tmp_path: Path) -> None:
        """vmalert appends /api/v2/alerts to -notifier.url: the endpoint itself is refused, naming it."""
        with pytest.raises(rw.RemoteWriteError, match="without /api/v2/alerts"):
            rw.commands(tmp_path, rw.Store(), "inv.yml", url, "15s")
        assert rw.commands(tmp_path, rw.Store(), "inv.yml", "https://am.example/proxy", "15s")["vmalert"]


class TestCommandLine:
    def test_writes_once_and_refuses_to_overwrite(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The command writes the set-up, then refuses a second run without --force and exits 2."""
        inventory = tmp_path / "inventory.yml"
        inventory.write_text("cluster: c\nnodes:\n  - {name: n1, exporter: '127.0.0.1:19400'}\n")
        args = ["remote-write", f"--inventory={inventory}", f"--output={tmp_path / 'out'}"]
        assert config_main(args) == 0
        assert (tmp_path / "out" / "commands.sh").is_file() and (tmp_path / "out" / "vmagent.yml").is_file()
        capsys.readouterr()
        assert config_main(args) == 2
        assert "refusing to overwrite" in capsys.readouterr().err

    def test_bad_url_is_one_line_and_exit_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed VictoriaMetrics URL is one error line, exit 2, and nothing written."""
        inventory = tmp_path / "inventory.yml"
        inventory.write_text("cluster: c\nnodes:\n  - {name: n1, exporter: '127.0.0.1:19400'}\n")
        assert config_main(["remote-write", f"--inventory={inventory}", f"--output={tmp_path / 'out'}",
                            "--victoria-metrics.write-url=vm:8428"]) == 2
        err = capsys.readouterr().err
        assert "invalid write URL 'vm:8428'" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "out").exists()
