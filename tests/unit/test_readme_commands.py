"""The shell commands of the README, CONTRIBUTING.md and docs name only subcommands, flags and values that exist.

Every ```sh block of README.md, CONTRIBUTING.md, docs/*.md and dashboards/README.md is split into
commands. Each ``spark-exporter ...`` command (also as ``.venv/bin/spark-exporter``, the installed
``/opt/spark-exporter/venv/bin/spark-exporter``, ``./dev.sh run ...`` or ``./dev.sh demo ...``) runs
in-process through ``spark_exporter.cli.main`` with ``--check-config`` added, in a temporary directory
holding the README's own inventory example as ``inventory.yml`` and a GPU recording made by the real
recorder on the simulator, with the files ``systemd/install.sh`` installs under their installed names
mapped back to the repository's: argparse refuses an unknown subcommand or flag, the settings model
refuses a bad value, and the command's files (inventory, config file, recording) are read, all without
starting a process. The ``./dev.sh`` and ``systemd/install.sh`` commands are checked against the
commands and options those scripts accept, and each ``bench/`` script must exist and define the flags
shown. A synopsis that is not a command belongs in a ```text block.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
from pathlib import Path

import pytest

from helpers.procs import REPO
from spark_exporter import cli
from spark_exporter.settings import ENV_PREFIX

README = REPO / "README.md"
CONTRIBUTING = REPO / "CONTRIBUTING.md"
DOCS = (README, CONTRIBUTING, *sorted((REPO / "docs").glob("*.md")), REPO / "dashboards" / "README.md")
INSTALL_SH = REPO / "systemd" / "install.sh"
OPERATORS = {"&&", "||", "|", ";", "&"}
REDIRECTS = {">", ">>", "<", "2>", "2>&1"}


def fenced_blocks(text: str, language: str) -> list[str]:
    """The bodies of the ```language blocks of a Markdown text."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[list[str]]:
    """The simple commands of a shell snippet: continuation lines joined, comments, pipes and redirects dropped."""
    out: list[list[str]] = []
    for line in block.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        current: list[str] = []
        skip_next = False
        for token in lexer:
            if skip_next:
                skip_next = False
            elif token in OPERATORS:
                out.append(current)
                current = []
            elif token in REDIRECTS:
                skip_next = True  # the redirect's file
            else:
                current.append(token)
        out.append(current)
    return [c for c in out if c]


def readme_commands() -> list[list[str]]:
    return [c for doc in DOCS for block in fenced_blocks(doc.read_text(), "sh") for c in commands(block)]


def spark_exporter_argv(command: list[str]) -> list[str] | None:
    """The arguments ``spark-exporter`` gets from a README command, or None if it does not run it."""
    if Path(command[0]).name == "spark-exporter":  # on PATH, .venv/bin/ or the units' /opt/... venv
        return command[1:]
    if command[:2] == ["./dev.sh", "run"]:
        return command[2:]
    if command[:2] == ["./dev.sh", "demo"]:
        return ["demo", *command[2:]]
    return None


def script_options(path: Path) -> set[str]:
    """The words a shell script's ``case`` labels accept, e.g. ``--rules`` or ``test``."""
    labels = re.findall(r"^\s*([-\w|*=]+)\)", path.read_text(), flags=re.MULTILINE)
    return {word.rstrip("*") for label in labels for word in label.split("|")}


def installed_files() -> dict[str, Path]:
    """The files ``systemd/install.sh`` installs, by installed path.

    For example ``/etc/spark-exporter/config.yml`` -> ``<clone>/systemd/config.yml``.
    """
    pairs = re.findall(r'^\s*put \d+ "\$SRC/(\S+)" "\$ROOT(/\S+)"', INSTALL_SH.read_text(), flags=re.MULTILINE)
    return {installed: REPO / source for source, installed in pairs}


def as_run_here(argv: list[str], installed: dict[str, Path]) -> list[str]:
    """``argv`` as the shell would pass it in the current directory, with installed files read from the repository.

    A word with ``*`` or ``?`` is expanded against the current directory (kept as it is without a match,
    as sh does); an installed path, alone or after ``--flag=``, becomes the repository file it is copied from.
    """
    out: list[str] = []
    for word in argv:
        flag, eq, value = word.rpartition("=") if word.startswith("--") and "=" in word else ("", "", word)
        if value in installed:
            out.append(f"{flag}{eq}{installed[value]}")
        elif any(c in word for c in "*?") and (matches := sorted(glob.glob(word))):
            out.extend(matches)
        else:
            out.append(word)
    return out


def bench_script_flags(path: Path) -> set[str]:
    """The flags a bench script's argparse parser defines."""
    return set(re.findall(r"add_argument\(\s*\"(--[\w.-]+)\"", path.read_text()))


SPARK_EXPORTER_COMMANDS = [argv for c in readme_commands() if (argv := spark_exporter_argv(c)) is not None]
BENCH_COMMANDS = [c for c in readme_commands() if any(w.startswith("bench/") and w.endswith(".py") for w in c)]


@pytest.fixture
def readme_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with the README's inventory example saved as inventory.yml, and no settings variables."""
    (inventory,) = [b for b in fenced_blocks(README.read_text(), "yaml") if "nodes:" in b]
    (tmp_path / "inventory.yml").write_text(inventory)
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    return tmp_path


@pytest.fixture(scope="module")
def gpu_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recording as docs/gpu.md makes one, by the real recorder (``gpu record``) on the simulated GB10."""
    path = tmp_path_factory.mktemp("recording") / "recording-spark-01-2026-01-01.json"
    assert cli.main(["gpu", "record", "--output", str(path), "--gpu.simulate=gb10"]) == 0
    return path


class TestReadmeParsing:
    def test_every_kind_of_command_is_found(self) -> None:
        """The documents' blocks yield the daemon and the config, query, api, demo and gpu subcommands."""
        firsts = {argv[0] if argv and not argv[0].startswith("-") else "(daemon)" for argv in SPARK_EXPORTER_COMMANDS}
        assert {"(daemon)", "config", "query", "api", "demo", "gpu"} <= firsts

    def test_every_document_is_read(self) -> None:
        """README.md, CONTRIBUTING.md, every docs/*.md and dashboards/README.md are among the documents read."""
        assert {README, CONTRIBUTING, REPO / "docs" / "prometheus.md", REPO / "docs" / "gpu.md"} <= set(DOCS)
        assert all(doc.is_file() for doc in DOCS)

    def test_installed_files_map_to_the_repository(self) -> None:
        """The config file and inventory the units read are found in install.sh and exist in the clone."""
        installed = installed_files()
        assert installed["/etc/spark-exporter/config.yml"] == REPO / "systemd" / "config.yml"
        assert all(source.is_file() for source in installed.values())
        assert as_run_here(["--config.file=/etc/spark-exporter/config.yml", "/etc/spark-exporter/inventory.yml"],
                           installed) == [f"--config.file={REPO / 'systemd' / 'config.yml'}",
                                          str(REPO / "systemd" / "inventory.example.yml")]

    def test_continuations_comments_and_redirects(self) -> None:
        """A continued line is one command; comments, redirect targets and '&&' separate or vanish as in sh."""
        block = "a --x 1 \\\n    --y 2   # comment\nb > out.yml && c 'q r'  # more\n"
        assert commands(block) == [["a", "--x", "1", "--y", "2"], ["b"], ["c", "q r"]]


class TestSparkExporterCommands:
    @pytest.mark.parametrize("argv", SPARK_EXPORTER_COMMANDS, ids=lambda argv: " ".join(argv) or "(daemon)")
    def test_command_is_accepted(self, argv: list[str], readme_inventory: Path, gpu_recording: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
        """The documented command parses and its settings validate (--check-config exits 0, printing the values)."""
        (readme_inventory / gpu_recording.name).write_bytes(gpu_recording.read_bytes())
        capsys.readouterr()
        try:
            code = cli.main([*as_run_here(argv, installed_files()), "--check-config"])
        except SystemExit as e:  # argparse: unknown subcommand or flag, bad choice
            code = int(e.code or 0)
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert re.search(r"^config\.file=\S+  # (default|flag)$", captured.out, flags=re.MULTILINE), captured.out


class TestScriptCommands:
    @pytest.mark.parametrize(("script", "position"), [("./dev.sh", 1), ("systemd/install.sh", None)])
    def test_script_arguments_exist(self, script: str, position: int | None) -> None:
        """Every ./dev.sh command and install.sh option the README uses is one the script's case accepts."""
        accepted = script_options(REPO / script)
        used = [c for c in readme_commands() if c[0] == script]
        assert used, f"the README uses {script}"
        for command in used:
            words = command[1:2] if position == 1 else [w for w in command[1:] if w.startswith("-")]
            assert set(words) <= accepted, f"{' '.join(command)}: {sorted(set(words) - accepted)} not in {script}"


class TestBenchCommands:
    def test_bench_commands_are_found(self) -> None:
        """The documents run the host, GPU and API benchmarks."""
        scripts = {w for c in BENCH_COMMANDS for w in c if w.startswith("bench/")}
        assert {"bench/bench_host.py", "bench/bench_gpu.py", "bench/bench_api.py"} <= scripts

    @pytest.mark.parametrize("command", BENCH_COMMANDS, ids=lambda c: " ".join(c))
    def test_script_exists_and_takes_the_flags(self, command: list[str]) -> None:
        """A documented bench/ command names a script that exists and flags its parser defines."""
        (script,) = [w for w in command if w.startswith("bench/") and w.endswith(".py")]
        path = REPO / script
        assert path.is_file(), f"{script} does not exist"
        flags = {w.split("=", 1)[0] for w in command[command.index(script) + 1:] if w.startswith("--")}
        assert flags <= bench_script_flags(path), f"{' '.join(command)}: {sorted(flags - bench_script_flags(path))}"


class TestReadmeShape:
    def test_readme_is_at_most_200_lines_and_installs_before_it_develops(self) -> None:
        """README.md stays an operator's page: at most 200 lines, installing on a node before any test command."""
        lines = README.read_text().splitlines()
        assert len(lines) <= 200, f"README.md has {len(lines)} lines; move details to docs/ or CONTRIBUTING.md"
        text = "\n".join(lines)
        assert "systemd" in text and "./dev.sh test" not in text.split("systemd", 1)[0]
