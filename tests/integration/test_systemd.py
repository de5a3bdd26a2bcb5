"""systemd units are hardened and the install script stages a working installation."""

from __future__ import annotations

import configparser
import subprocess
from pathlib import Path

import pytest

from helpers.procs import PYTHON, REPO, require_binary

UNITS = ["spark-exporter.service", "spark-exporter-api.service"]


def unit_settings(name: str) -> dict[str, list[str]]:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    settings: dict[str, list[str]] = {}
    for line in (REPO / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            k, _, v = line.partition("=")
            settings.setdefault(k.strip(), []).append(v.strip())
    return settings


class TestUnits:
    @pytest.mark.parametrize("unit", UNITS)
    def test_exposure_is_low(self, unit: str) -> None:
        """systemd-analyze rates each unit's exposure at 2.5 or below (OK) when analysed offline."""
        analyze = require_binary("systemd-analyze")
        r = subprocess.run([analyze, "security", "--offline=yes", "--threshold=25", "--no-pager",
                            str(REPO / "systemd" / unit)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr
        assert "Overall exposure level" in r.stdout

    @pytest.mark.parametrize("unit", UNITS)
    def test_runs_unprivileged_without_capabilities(self, unit: str) -> None:
        """Units run as the spark-exporter user with no capabilities and no new privileges."""
        s = unit_settings(unit)
        assert s["User"] == ["spark-exporter"]
        assert s["CapabilityBoundingSet"] == [""]
        assert s["NoNewPrivileges"] == ["yes"]
        assert s["ProtectSystem"] == ["strict"]

    def test_exporter_unit_only_reaches_nvidia_devices(self) -> None:
        """The exporter may open the NVIDIA device nodes and no other device."""
        s = unit_settings("spark-exporter.service")
        assert s["DevicePolicy"] == ["closed"]
        assert all(d.startswith("char-nvidia") for d in s["DeviceAllow"])


INSTALL = ["bash", str(REPO / "systemd" / "install.sh")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This clone built once as a wheel (the page included), for the installs that test what follows the build."""
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    (built,) = out.glob("spark_exporter-*.whl")
    return built


class TestInstall:
    def test_install_into_staging_root(self, tmp_path: Path) -> None:
        """install.sh --root stages venv, units, config and rules, and the installed binary accepts the config."""
        root = tmp_path / "root"
        r = subprocess.run(["bash", str(REPO / "systemd" / "install.sh"), "--root", str(root), "--no-start",
                            "--exporter", "--rules", "--api"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        for rel in ["etc/systemd/system/spark-exporter.service", "etc/systemd/system/spark-exporter-api.service",
                    "etc/default/spark-exporter", "etc/spark-exporter/config.yml", "opt/spark-exporter/src/README.md"]:
            assert (root / rel).is_file(), rel
        assert list((root / "etc/prometheus/spark-exporter/rules").glob("*.yml"))
        binary = root / "opt/spark-exporter/venv/bin/spark-exporter"
        out = subprocess.run([str(binary), f"--config.file={root / 'etc/spark-exporter/config.yml'}",
                              "--check-config"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "web.listen-address=:19400" in out.stdout

    def test_existing_config_is_kept(self, tmp_path: Path, wheel: Path) -> None:
        """A second install keeps an edited /etc/spark-exporter/config.yml (installing a given --wheel)."""
        root = tmp_path / "root"
        cfg = root / "etc/spark-exporter/config.yml"
        cfg.parent.mkdir(parents=True)
        cfg.write_text("collect:\n  min-age: 15s\n")
        r = subprocess.run([*INSTALL, "--root", str(root), "--no-start", "--wheel", str(wheel)],
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert cfg.read_text() == "collect:\n  min-age: 15s\n"
        assert "keeping existing" in r.stdout
        # --wheel installed that file, not a build of the clone
        (record,) = (root / "opt/spark-exporter/venv/lib").glob("python3*/site-packages/spark_exporter-*.dist-info")
        assert wheel.name in (record / "direct_url.json").read_text()

    def test_a_wheel_of_the_installed_version_replaces_its_files(self, tmp_path: Path, wheel: Path) -> None:
        """Installing --wheel again at the same version (the version is not bumped per build) puts the wheel's
        files in again; pip alone keeps the installed files as 'already satisfied'."""
        root = tmp_path / "root"
        argv = [*INSTALL, "--root", str(root), "--no-start", "--wheel", str(wheel)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        (init,) = (root / "opt/spark-exporter/venv/lib").glob("python3*/site-packages/spark_exporter/__init__.py")
        shipped = init.read_text()
        init.write_text(shipped + "\nSTALE = True  # an older build's file\n")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert init.read_text() == shipped

    def test_rules_alone_installs_only_the_rules(self, tmp_path: Path) -> None:
        """--rules by itself (a Prometheus host) installs the rule files and no venv, unit or config."""
        root = tmp_path / "root"
        r = subprocess.run(["bash", str(REPO / "systemd" / "install.sh"), "--root", str(root), "--no-start",
                            "--rules"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        installed = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        assert installed == sorted(f"etc/prometheus/spark-exporter/rules/{p.name}"
                                   for p in (REPO / "rules").glob("*.yml"))

    def test_api_gets_an_example_inventory_that_is_kept(self, tmp_path: Path, wheel: Path) -> None:
        """--api installs the API unit and the example inventory it reads, and keeps an edited inventory."""
        root = tmp_path / "root"
        argv = [*INSTALL, "--root", str(root), "--no-start", "--api", "--wheel", str(wheel)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        inventory = root / "etc/spark-exporter/inventory.yml"
        assert inventory.read_bytes() == (REPO / "systemd/inventory.example.yml").read_bytes()
        unit = (root / "etc/systemd/system/spark-exporter-api.service").read_text()
        assert "--inventory=/etc/spark-exporter/inventory.yml" in unit
        assert not (root / "etc/systemd/system/spark-exporter.service").exists()
        inventory.write_text("cluster: mine\nnodes:\n  - name: a\n    exporter: 10.1.1.1:19400\n")
        r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        assert inventory.read_text().startswith("cluster: mine")

    @pytest.mark.parametrize("args", [["--wheel"], ["--wheel="], ["--wheel", "README.md"],
                                      ["--wheel=/nonexistent.whl"]])
    def test_a_bad_wheel_argument_is_one_line_and_exit_2(self, tmp_path: Path, args: list[str]) -> None:
        """--wheel without a .whl file is refused before anything is installed."""
        root = tmp_path / "root"
        r = subprocess.run([*INSTALL, *args, "--root", str(root), "--no-start"], capture_output=True, text=True,
                           cwd=REPO, timeout=60)
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.splitlines()[0].startswith("install.sh: ")
        assert not root.exists()
