"""The command line: one runner, one-line usage errors with suggestions, short --help, --help-all."""

from __future__ import annotations

import ast
import asyncio
import socket
from pathlib import Path

import pytest

from spark_exporter import cli
from spark_exporter.commands.runner import SUBCOMMANDS
from spark_exporter.exporter.daemon import exporter_schema
from spark_exporter.query.client import PrometheusClient, PrometheusUnavailable
from spark_exporter.settings import query_schema

PACKAGE = Path(cli.__file__).resolve().parent


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    """cli.main in this process: exit status (SystemExit's too), stdout, and the stderr lines."""
    try:
        code = cli.main(argv)
    except SystemExit as e:  # --help and --help-all exit 0 as argparse does
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.splitlines()


class TestSuggestions:
    @pytest.mark.parametrize(("argv", "prog", "wanted"), [
        (["--web.listen-adress", ":19400"], "spark-exporter", "did you mean --web.listen-address?"),
        (["--web.listen-adress=:19400"], "spark-exporter", "did you mean --web.listen-address?"),
        (["querry", "overview"], "spark-exporter", "did you mean query?"),
        (["query", "--prometheus.urll", "http://x", "overview"], "spark-exporter query",
         "did you mean --prometheus.url?"),
        (["query", "overvew"], "spark-exporter query", "did you mean overview?"),
        (["config", "prometheus", "--inventry", "x.yml"], "spark-exporter config", "did you mean --inventory?"),
        (["gpu", "record", "--output=-", "--gpu.simulte=gb10"], "spark-exporter gpu", "did you mean --gpu.simulate?"),
    ])
    def test_mistake_is_one_line_naming_the_closest(self, argv: list[str], prog: str, wanted: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
        """A mistyped flag or subcommand is one error line with the closest valid one, exit 2, no usage."""
        code, out, err = run(argv, capsys)
        assert code == 2 and out == ""
        assert len(err) == 1 and err[0].startswith(f"{prog}") and ": error: " in err[0], err
        assert err[0].endswith(wanted), err

    @pytest.mark.parametrize("argv", [
        ["config", "alertmanager", "--receivr", "x"],  # "--receivr" is not like "--force" but for the dashes
        ["config", "rules", "--inventry", "x"],  # --inventory is config prometheus', not config rules'
    ])
    def test_no_suggestion_of_an_unrelated_or_foreign_flag(self, argv: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
        """Only a flag of the subcommand being run, and like the mistyped one without its dashes, is suggested;
        the error names that subcommand."""
        code, _, err = run(argv, capsys)
        assert code == 2 and len(err) == 1, err
        assert err[0] == f"spark-exporter {argv[0]} {argv[1]}: error: unknown flag {argv[2]}", err

    def test_value_of_a_mistyped_flag_is_not_blamed(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The flag before a value is named, not the value as an 'invalid choice'."""
        _, _, err = run(["query", "--prometheus.urll", "http://x", "overview"], capsys)
        assert "--prometheus.urll" in err[0] and "http://x" not in err[0] and "invalid choice" not in err[0]

    def test_unrelated_word_lists_the_subcommands(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A word like no subcommand gets the list of subcommands instead of a guess."""
        code, _, err = run(["xyzzy"], capsys)
        assert code == 2 and len(err) == 1 and all(name in err[0] for name in SUBCOMMANDS)

    def test_bad_choice_names_its_flag(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A value outside a flag's choices names the flag and the closest choice."""
        code, _, err = run(["query", "history", "spark-01", "--duration", "12h"], capsys)
        assert code == 2 and len(err) == 1
        assert "--duration: invalid value '12h'" in err[0] and "did you mean" in err[0]

    @pytest.mark.parametrize(("argv", "names"), [(["gpu"], "record"), (["config"], "prometheus, alertmanager")])
    def test_missing_subcommand_lists_the_subcommands(self, argv: list[str], names: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        """A command that needs a subcommand, given none, lists them in one line (not argparse's dest)."""
        code, _, err = run(argv, capsys)
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(f"spark-exporter {argv[0]}: error: a subcommand is required: {names}"), err

    def test_missing_required_flag_is_one_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        """gpu record without --output is one line naming --output, exit 2."""
        code, _, err = run(["gpu", "record"], capsys)
        assert code == 2 and len(err) == 1 and "--output" in err[0]

    def test_unambiguous_prefix_still_works(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A prefix of exactly one flag is accepted, as argparse always did."""
        code, out, _ = run(["--check-conf"], capsys)
        assert code == 0 and out.startswith("config.file=none  # default")


class TestHelp:
    def test_help_opens_with_the_subcommands_in_at_most_60_lines(self, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
        """--help names every subcommand before any flag, shows the most-used flags, and fits 60 lines."""
        monkeypatch.setenv("COLUMNS", "80")
        code, out, _ = run(["--help"], capsys)
        lines = out.splitlines()
        assert code == 0 and len(lines) <= 60, len(lines)
        first_flag = next(i for i, line in enumerate(lines) if line.lstrip().startswith("-"))
        for name in SUBCOMMANDS:
            assert any(line.startswith(f"  {name} ") for line in lines[:first_flag]), name
        assert "--web.listen-address" in out and "--help-all" in out
        assert "--collector.cpu" not in out and "--no-collector" in out  # the switches are summarised

    def test_help_all_lists_every_daemon_flag(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help-all shows every setting of the daemon, each collector's switch included."""
        code, out, _ = run(["--help-all"], capsys)
        assert code == 0
        missing = [o.flag for o in exporter_schema().options.values() if o.flag not in out]
        assert not missing

    def test_subcommand_help_all_lists_its_flags(self, capsys: pytest.CaptureFixture[str]) -> None:
        """query --help-all shows every setting of query."""
        code, out, _ = run(["query", "--help-all"], capsys)
        assert code == 0 and all(o.flag in out for o in query_schema().options.values())

    def test_gpu_record_help_is_short_and_help_all_complete(self, capsys: pytest.CaptureFixture[str]) -> None:
        """gpu record --help shows its own flags; --help-all adds every exporter flag."""
        _, short, _ = run(["gpu", "record", "--help"], capsys)
        _, full, _ = run(["gpu", "record", "--help-all"], capsys)
        assert "--output" in short and "--gpu.simulate" in short and "--collector.cpu" not in short
        assert "--collector.cpu" in full and "--path.procfs" in full


def _imports(path: Path) -> set[str]:
    """Absolute names of the modules ``path`` imports, at any depth (imports in functions too)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


class TestOneRunner:
    def test_config_error_is_caught_once_in_the_command_path(self) -> None:
        """Only the runner catches ConfigError among the command modules and cli.py."""
        catching = []
        for path in [PACKAGE / "cli.py", *sorted((PACKAGE / "commands").glob("*.py"))]:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ExceptHandler) and node.type is not None and "ConfigError" in ast.unparse(
                        node.type):
                    catching.append(path.name)
        assert catching == ["runner.py"]

    def test_no_command_module_imports_another(self) -> None:
        """A command module imports the runner, never another subcommand's module."""
        modules = {p.stem for p in (PACKAGE / "commands").glob("*.py")} - {"__init__", "runner"}
        assert modules >= {"exporter", "api", "query", "config", "demo", "gpu"}
        for name in modules:
            imported = _imports(PACKAGE / "commands" / f"{name}.py")
            others = {f"spark_exporter.commands.{m}" for m in modules - {name}}
            assert not imported & others, name

    def test_program_name_is_defined_once(self) -> None:
        """Exactly one module assigns PROG = "spark-exporter"; the others import it."""
        defining = []
        for path in PACKAGE.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PROG"
                                                        for t in node.targets):
                    if isinstance(node.value, ast.Constant) and str(node.value.value).startswith("spark-exporter"):
                        defining.append(str(path.relative_to(PACKAGE)))
        assert defining == ["settings/parser.py"]

    @pytest.mark.parametrize("package", ["exporter", "query", "prometheus", "nvml", "collectors"])
    def test_domain_packages_have_no_command_line(self, package: str) -> None:
        """exporter, query, prometheus, nvml and collectors use no argparse and have no __main__ block."""
        for path in (PACKAGE / package).rglob("*.py"):
            text = path.read_text()
            assert "argparse" not in _imports(path), path
            assert '__name__ == "__main__"' not in text, path

    def test_nvml_imports_nothing_above_it(self) -> None:
        """nvml/record.py (the recording library) imports only nvml and lower layers."""
        above = ("spark_exporter.collectors", "spark_exporter.exporter", "spark_exporter.commands",
                 "spark_exporter.query", "spark_exporter.prometheus")
        for path in (PACKAGE / "nvml").glob("record*.py"):
            assert not [m for m in _imports(path) if m.startswith(above)], path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestErrorsWithoutInternals:
    def test_refused_connection_is_the_url_and_the_reason(self) -> None:
        """A dead Prometheus is 'cannot reach Prometheus at URL: Connection refused', no aiohttp wording."""
        url = f"http://127.0.0.1:{_closed_port()}"

        async def ask() -> None:
            async with PrometheusClient(url, timeout=5) as client:
                await client.query("up")

        with pytest.raises(PrometheusUnavailable) as e:
            asyncio.run(ask())
        assert str(e.value) == f"cannot reach Prometheus at {url}: Connection refused"
