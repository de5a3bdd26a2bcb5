"""The README's shell commands name only subcommands, flags and values that exist.

Every ```sh block of README.md (and of the two guides it sends operators to, docs/prometheus.md and
dashboards/README.md) is split into commands. Each ``spark-exporter ...`` command (also
as ``./dev.sh run ...`` or ``./dev.sh demo ...``) runs in-process through ``spark_exporter.cli.main``
with ``--check-config`` added, in a temporary directory holding the README's own inventory example as
``inventory.yml``: argparse refuses an unknown subcommand or flag, the settings model refuses a bad
value, and the command's files (the inventory) are read, all without starting a process. The
``./dev.sh`` and ``systemd/install.sh`` commands are checked against the commands and options those
scripts accept.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from helpers.procs import REPO
from spark_exporter import cli
from spark_exporter.settings import ENV_PREFIX

README = REPO / "README.md"
DOCS = (README, REPO / "docs" / "prometheus.md", REPO / "dashboards" / "README.md")
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
    if command[0] == "spark-exporter":
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


SPARK_EXPORTER_COMMANDS = [argv for c in readme_commands() if (argv := spark_exporter_argv(c)) is not None]


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


class TestReadmeParsing:
    def test_every_kind_of_command_is_found(self) -> None:
        """The README's blocks yield the daemon and the config, query, api and demo subcommands."""
        firsts = {argv[0] if argv and not argv[0].startswith("-") else "(daemon)" for argv in SPARK_EXPORTER_COMMANDS}
        assert {"(daemon)", "config", "query", "api", "demo"} <= firsts

    def test_continuations_comments_and_redirects(self) -> None:
        """A continued line is one command; comments, redirect targets and '&&' separate or vanish as in sh."""
        block = "a --x 1 \\\n    --y 2   # comment\nb > out.yml && c 'q r'  # more\n"
        assert commands(block) == [["a", "--x", "1", "--y", "2"], ["b"], ["c", "q r"]]


class TestSparkExporterCommands:
    @pytest.mark.parametrize("argv", SPARK_EXPORTER_COMMANDS, ids=lambda argv: " ".join(argv) or "(daemon)")
    def test_command_is_accepted(self, argv: list[str], readme_inventory: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
        """The README's command parses and its settings validate (--check-config exits 0, printing the values)."""
        try:
            code = cli.main([*argv, "--check-config"])
        except SystemExit as e:  # argparse: unknown subcommand or flag, bad choice
            code = int(e.code or 0)
        captured = capsys.readouterr()
        assert code == 0, captured.err
        assert re.match(r"config\.file=none  # default$", captured.out.splitlines()[0])


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
