"""Extract vLLM's Prometheus families from a vLLM source distribution into ``<version>.json``.

    python tests/reference/vllm/extract.py vllm-0.34.0.tar.gz > tests/reference/vllm/0.34.json

Reads ``vllm/v1/metrics/loggers.py`` and ``perf.py`` (every ``self._gauge_cls``/``_counter_cls``/
``_histogram_cls`` call: name, type, documentation, label names, buckets) and ``FINISH_REASON_STRINGS``
from ``vllm/v1/engine/__init__.py``, with Python's ``ast``: nothing from the archive is imported or run
(vLLM needs torch). Label names and buckets that are a name bound to a literal in the same function (or
module) are resolved; anything else is kept as its source text under ``labels_source``/``buckets_source``.
Exit status 2 when the archive lacks those files.
"""

from __future__ import annotations

import ast
import json
import sys
import tarfile
from typing import Any

KINDS = {"_gauge_cls": "gauge", "_counter_cls": "counter", "_histogram_cls": "histogram"}
FILES = ("vllm/v1/metrics/loggers.py", "vllm/v1/metrics/perf.py")
BUCKETS_FILE = "vllm/v1/metrics/buckets.py"  # 0.34: default buckets per family, histogram_buckets(family)
MAX_MEMBER = 4 * 1024 * 1024  # bytes: these files are far smaller


def _read(archive: tarfile.TarFile, suffix: str) -> str | None:
    for member in archive.getmembers():
        if member.isfile() and member.name.split("/", 1)[-1] == suffix and member.size <= MAX_MEMBER:
            f = archive.extractfile(member)
            return f.read().decode() if f else None
    return None


def _literals(scope: ast.AST, buckets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Names bound by ``name = <literal>`` (or annotated) in ``scope``, and by ``histogram_buckets("family",
    ...)`` where ``buckets`` (buckets.py's constants) has ``FAMILY_BUCKETS``."""
    out: dict[str, Any] = {}
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        if (buckets is not None and isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id == "histogram_buckets" and value.args
                and isinstance(value.args[0], ast.Constant)):
            constant = f"{str(value.args[0].value).upper()}_BUCKETS"
            if constant in buckets:
                out[target] = buckets[constant]
            continue
        try:
            out[target] = ast.literal_eval(value)
        except ValueError:
            continue
    return out


def _value(node: ast.expr | None, env: dict[str, Any], source: str) -> tuple[Any, str | None]:
    if node is None:
        return None, None
    try:
        return ast.literal_eval(node), None
    except ValueError:
        pass
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id], None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # labelnames + ["reason"]
        left, _ = _value(node.left, env, source)
        right, _ = _value(node.right, env, source)
        if isinstance(left, list | tuple) and isinstance(right, list | tuple):
            return [*left, *right], None
    return None, ast.get_source_segment(source, node)


def families(source: str, buckets: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every family a ``self._<kind>_cls(name=...)`` call in ``source`` defines, sorted by name."""
    tree = ast.parse(source)
    module_env = _literals(tree, buckets)
    out = []
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        env = {**module_env, **_literals(func, buckets)}
        for call in ast.walk(func):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr in KINDS):
                continue
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            name, _ = _value(kw.get("name"), env, source)
            if not isinstance(name, str):
                continue
            doc, doc_src = _value(kw.get("documentation"), env, source)
            labels, labels_src = _value(kw.get("labelnames"), env, source)
            family: dict[str, Any] = {"name": name, "type": KINDS[call.func.attr],
                                      "documentation": doc if doc is not None else doc_src,
                                      "labels": list(labels) if labels is not None else None}
            if labels_src:
                family["labels_source"] = labels_src
            if family["type"] == "histogram":
                buckets, buckets_src = _value(kw.get("buckets"), env, source)
                family["buckets"] = list(buckets) if buckets is not None else None
                if buckets_src:
                    family["buckets_source"] = buckets_src
            out.append(family)
    return sorted(out, key=lambda f: f["name"])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: extract.py vllm-VERSION.tar.gz", file=sys.stderr)
        return 2
    with tarfile.open(argv[0]) as archive:
        texts = {path: _read(archive, path) for path in (*FILES, BUCKETS_FILE, "vllm/v1/engine/__init__.py")}
    if texts[FILES[0]] is None:
        print(f"extract.py: {argv[0]} has no {FILES[0]}", file=sys.stderr)
        return 2
    buckets_text = texts[BUCKETS_FILE]
    buckets = _literals(ast.parse(buckets_text)) if buckets_text is not None else None
    found = [f for path in FILES if (text := texts[path]) is not None for f in families(text, buckets)]
    reasons = None
    engine = texts["vllm/v1/engine/__init__.py"]
    if engine is not None:
        env = _literals(ast.parse(engine))
        reasons = env.get("FINISH_REASON_STRINGS")
    version = argv[0].rsplit("/", 1)[-1].removeprefix("vllm-").removesuffix(".tar.gz")
    json.dump({"version": version, "source": f"https://pypi.org/project/vllm/{version}/ (sdist), "
               + ", ".join(p for p in (*FILES, BUCKETS_FILE) if texts[p] is not None),
               "finished_reasons": list(reasons) if reasons else None, "families": found}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
