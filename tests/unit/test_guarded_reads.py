"""Every file the package reads goes through one of the two guarded readers (an AST scan of spark_exporter/).

The guarded readers are ``collectors/_files.py`` (procfs, sysfs, udev, text files: regular files only,
O_NONBLOCK, a size cap) and ``settings/files.py`` (files the operator names: the same rules plus
UTF-8 and YAML limits). Any other ``open()``, ``os.open()``, ``io.open()``, ``Path.open()``,
``read_text()`` or ``read_bytes()`` call fails this test unless

* it opens for writing only (a literal mode with ``w``, ``a`` or ``x`` and no ``+`` or ``r``, or
  ``os.open`` flags naming ``O_WRONLY``), or
* it reads the package's own installed files through ``importlib.resources`` (a ``Traversable`` from
  ``resources.files(...)``: nobody can point it at /proc, /sys or a configured root); those call sites
  are listed in PACKAGE_DATA, each with the function it is in.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "spark_exporter"
GUARDED = {"collectors/_files.py", "settings/files.py"}
READ_METHODS = {"read_text", "read_bytes", "open"}
#: (module, enclosing function) -> why the read is not a read of /proc, /sys or a configured root.
PACKAGE_DATA = {
    ("nvml/catalogue.py", "load_catalogue"): "the packaged dcgm_fields.csv via importlib.resources",
    ("prometheus/kit.py", "assets"): "packaged rules/dashboards via importlib.resources",
    ("query/webui.py", "index"): "the built page inside the package via importlib.resources",
    ("query/webui.py", "asset"): "built page assets inside the package via importlib.resources",
}


def _write_only_mode(call: ast.Call) -> bool:
    mode: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    if not (isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
        return False
    return any(c in mode.value for c in "wax") and not any(c in mode.value for c in "r+")


def _os_open_write_only(call: ast.Call) -> bool:
    flags = call.args[1] if len(call.args) > 1 else None
    return flags is not None and any(isinstance(n, ast.Attribute) and n.attr == "O_WRONLY" for n in ast.walk(flags))


def _is_read(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name) and f.id == "open":
        return not _write_only_mode(call)
    if isinstance(f, ast.Attribute):
        owner = f.value.id if isinstance(f.value, ast.Name) else None
        if f.attr == "open" and owner == "os":
            return not _os_open_write_only(call)
        if f.attr == "open" and owner == "io":
            return not _write_only_mode(call)
        if f.attr in ("read_text", "read_bytes"):
            return True
        if f.attr == "open" and owner not in ("os", "io", "socket", "webbrowser", "tarfile", "gzip"):
            # Path.open(mode): the mode is the first argument.
            shifted = ast.Call(func=f, args=[ast.Constant(None), *call.args], keywords=call.keywords)
            return not _write_only_mode(shifted)
    return False


def _reads() -> list[tuple[str, str, int]]:
    """(module, enclosing function, line) of every unguarded read call in the package."""
    found: list[tuple[str, str, int]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in GUARDED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

        def visit(node: ast.AST, func: str, rel: str = rel) -> None:
            for child in ast.iter_child_nodes(node):
                name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
                if isinstance(child, ast.Call) and _is_read(child):
                    found.append((rel, func, child.lineno))
                visit(child, name)

        visit(tree, "<module>")
    return found


class TestGuardedReads:
    def test_no_read_outside_the_guarded_readers(self) -> None:
        """No module opens a file for reading except through the guarded readers or as package data."""
        stray = [f"spark_exporter/{m}:{line} in {fn}()" for m, fn, line in _reads() if (m, fn) not in PACKAGE_DATA]
        assert stray == [], "read these through collectors/_files.py or settings/files.py:\n" + "\n".join(stray)

    def test_every_package_data_entry_is_still_used(self) -> None:
        """The allow-list holds no stale entry (a module that still exists without that read)."""
        sites = {(m, fn) for m, fn, _ in _reads()}
        stale = [k for k in PACKAGE_DATA if (PACKAGE / k[0]).exists() and k not in sites]
        assert stale == []

    def test_the_scan_sees_each_kind_of_read(self) -> None:
        """The scan flags open(), os.open(), Path.open(), read_text() and read_bytes(), and not write opens."""
        src = ("open(p)\nopen(p, 'rb')\nos.open(p, os.O_RDONLY)\np.open()\np.read_text()\np.read_bytes()\n"
               "open(p, 'w')\nos.open(p, os.O_WRONLY)\np.open('a')\nopen(p, 'r+')\n")
        calls = [n for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Call)]
        flagged = sorted(c.lineno for c in calls if _is_read(c))
        assert flagged == [1, 2, 3, 4, 5, 6, 10]
