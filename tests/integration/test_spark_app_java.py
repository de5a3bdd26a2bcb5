"""The Spark stand-in's Java check, run as a process."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from spark_exporter.workloads import spark_app


def fake_java(directory: Path, version_line: str) -> Path:
    """A ``bin/java`` under ``directory`` that prints ``version_line`` to stderr, as ``java -version`` does."""
    java = directory / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return java


class TestJavaCheck:
    @pytest.mark.parametrize(("line", "major"), [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ("no version here", None),
    ])
    def test_reads_the_major_version(self, tmp_path: Path, line: str, major: int | None) -> None:
        """``java -version``'s first line gives the major version (1.8 is 8); anything else gives None."""
        assert spark_app.java_major(str(fake_java(tmp_path, line))) == major

    def test_old_java_is_named_in_the_reason(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """With PySpark present, a Java 11 on JAVA_HOME is the reason Spark cannot start."""
        fake_java(tmp_path, 'openjdk version "11.0.2" 2019-01-15')
        monkeypatch.setenv("JAVA_HOME", str(tmp_path))
        assert spark_app.unavailable_reason() == "Java 11 found, Spark needs 17 or newer"

    def test_missing_java_is_named_in_the_reason(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A JAVA_HOME without a java binary is reported, not a crash."""
        monkeypatch.setenv("JAVA_HOME", str(tmp_path))
        assert spark_app.unavailable_reason() == "no Java runtime found (JAVA_HOME or java on PATH)"
