"""The layer contract: pyproject.toml's [tool.importlinter] and docs/architecture.md say the same thing,
and spark_exporter/ holds nothing the contract does not place."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "spark_exporter"
DATA_FILES = {"dcgm_fields.csv"}  # top-level entries that are data, not code


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def contract_rows() -> list[tuple[frozenset[tuple[str, bool]], bool]]:
    """The layers contract as rows of ((package, optional), ...) and whether the row's packages may import
    each other."""
    (layers,) = [c for c in contracts() if c["type"] == "layers"]
    assert layers["containers"] == ["spark_exporter"]
    rows = []
    for line in layers["layers"]:
        sep = ":" if ":" in line else "|"
        names = [n.strip() for n in line.split(sep)]
        rows.append((frozenset((n.strip("()"), n.startswith("(")) for n in names), sep == ":"))
    return rows


def doc_section() -> str:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start = text.index("## Layers")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def doc_rows() -> list[tuple[frozenset[tuple[str, bool]], bool]]:
    rows = []
    for m in re.finditer(r"^\| (\d+) \| (.+?) \| (.+?) \|$", doc_section(), re.M):
        names = frozenset((n, bool(opt)) for n, opt in re.findall(r"`(\w+)`( \(optional\))?", m.group(2)))
        inside = m.group(3).strip()
        assert inside in ("may import each other", "independent", "–"), inside
        rows.append((names, inside == "may import each other"))
    return rows


class TestContractAndDocs:
    def test_the_layer_table_is_the_contract(self) -> None:
        """docs/architecture.md's layer table lists the contract's rows, in order, with the same packages,
        optional marks and in-row rule."""
        doc = doc_rows()
        assert doc, "no layer table under '## Layers' in docs/architecture.md"
        assert doc == contract_rows()

    def test_the_forbidden_imports_are_stated(self) -> None:
        """Every forbidden contract appears in the docs as "`a` must not import `b`", and nothing else does."""
        stated = set(re.findall(r"^- `(\w+)` must not import `(\w+)`$", doc_section(), re.M))
        forbidden = {(src.removeprefix("spark_exporter."), dst.removeprefix("spark_exporter."))
                     for c in contracts() if c["type"] == "forbidden"
                     for src in c["source_modules"] for dst in c["forbidden_modules"]}
        assert stated == forbidden and forbidden

    def test_cycles_are_forbidden_across_the_package(self) -> None:
        """An acyclic_siblings contract covers all of spark_exporter, and the docs say so."""
        acyclic = [c for c in contracts() if c["type"] == "acyclic_siblings"]
        assert [c["ancestors"] for c in acyclic] == [["spark_exporter"]]
        assert "`acyclic_siblings` over `spark_exporter`" in doc_section()


class TestTopLevel:
    def test_every_top_level_entry_has_a_row(self) -> None:
        """Each package and module directly under spark_exporter/ is in the layers contract (no new top-level
        package escapes it), and each required row entry exists."""
        placed = {name: optional for row, _ in contract_rows() for name, optional in row}
        present = set()
        for entry in PACKAGE.iterdir():
            if entry.name in DATA_FILES or entry.name == "__init__.py" or entry.name.startswith((".", "__pycache__")):
                continue
            if entry.is_dir() and (entry / "__init__.py").exists():
                present.add(entry.name)
            elif entry.suffix == ".py":
                present.add(entry.stem)
            else:
                raise AssertionError(f"unexpected entry in spark_exporter/: {entry.name}")
        assert present - set(placed) == set(), "top-level entries the contract does not place"
        assert {n for n, optional in placed.items() if not optional} - present == set()


class TestSimulatorProfiles:
    def test_settings_syntax_names_the_simulated_models(self) -> None:
        """settings' profile syntax (bottom layer) accepts exactly the models nvml/profiles.py describes."""
        from spark_exporter.nvml.profiles import MODELS
        from spark_exporter.settings.values import SIMULATOR_MODELS, parse_simulator_profile

        assert set(SIMULATOR_MODELS) == set(MODELS)
        assert [parse_simulator_profile(f"{m}x2") for m in SIMULATOR_MODELS] == [(m, 2) for m in SIMULATOR_MODELS]
