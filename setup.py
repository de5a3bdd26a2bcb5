"""Build hook: copy the top-level rules/ and dashboards/ into the wheel as spark_exporter/assets/.

The repository keeps rules/ and dashboards/ at the top level (promtool, Grafana and the docs point
there), but a wheel can only carry files inside its packages, and package data cannot reach outside
a package directory. So build_py copies them into the build tree under spark_exporter/assets/,
where ``spark_exporter.prometheus.kit`` reads them with importlib.resources. Nothing is copied into
the source tree and no symlinks are involved, so a fresh clone, ``pip install .``, ``pip wheel .``
and an sdist build (MANIFEST.in carries the two directories) all see the same files. An editable
install (``pip install -e .``, what ./dev.sh does) has no build tree: the kit then reads the
top-level directories of the clone it points at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# top-level directory -> file pattern shipped under spark_exporter/assets/<directory>/
ASSETS = {"rules": "*.yml", "dashboards": "*.json"}


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


setup(cmdclass={"build_py": build_py_with_assets})
