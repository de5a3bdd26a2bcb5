"""lint-imports on a copy of the package: a deliberately upward import breaks the layer contract."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
VIOLATION = "spark_exporter.settings is not allowed to import spark_exporter.exporter"


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy first, ahead of the installed package
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.integration
class TestUpwardImport:
    def test_an_import_of_exporter_inside_settings_fails_the_contract(self, tmp_path: Path) -> None:
        """Adding `import spark_exporter.exporter` inside a function of a settings module makes lint-imports
        fail, naming that import; the unmodified copy has no such finding."""
        shutil.copytree(ROOT / "spark_exporter", tmp_path / "spark_exporter",
                        ignore=shutil.ignore_patterns("__pycache__", "webui"))
        shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
        before = lint(tmp_path)
        assert VIOLATION not in before.stdout, before.stdout[-2000:]

        values = tmp_path / "spark_exporter" / "settings" / "values.py"
        values.write_text(values.read_text(encoding="utf-8")
                          + "\n\ndef _upward() -> None:\n    import spark_exporter.exporter  # noqa: F401\n",
                          encoding="utf-8")
        after = lint(tmp_path)
        assert after.returncode != 0
        assert VIOLATION in after.stdout, after.stdout[-2000:]
        assert "spark_exporter.settings.values -> spark_exporter.exporter" in after.stdout
