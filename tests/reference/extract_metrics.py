"""Extract an inference engine's Prometheus families from its release archive into JSON.

    python tests/reference/extract_metrics.py vllm vllm-0.34.0.tar.gz > tests/reference/vllm/0.34.json
    python tests/reference/extract_metrics.py sglang sglang-0.5.23-...whl > tests/reference/sglang/0.5.23.json
    python tests/reference/extract_metrics.py llamacpp llama_cpp_python-0.3.36.tar.gz \
        > tests/reference/llamacpp/0.3.36.json

vLLM: ``vllm/v1/metrics/loggers.py`` and ``perf.py`` (every ``self._gauge_cls``/``_counter_cls``/
``_histogram_cls`` call: name, type, documentation, label names, buckets), ``buckets.py`` (0.34's default
buckets) and ``FINISH_REASON_STRINGS`` from ``vllm/v1/engine/__init__.py``. SGLang:
``sglang/srt/observability/metrics_collector.py`` (every ``Gauge``/``Counter``/``Histogram``/``Summary``
call, with the class that defines it: its ``labels`` are that collector's base labels, written
``<labels>``). llama.cpp (vendored in llama-cpp-python's sdist): the ``counters`` and ``gauges`` vectors of
``server_task_result_metrics::to_metrics()`` in ``tools/server/server-task.cpp``, in order, read with a
regular expression (C++). Python's ``ast`` reads the Python files: nothing from the archive is imported
or run (both need torch). Label names and buckets bound to a literal in the same function (or module) are resolved;
anything else is kept as its source text under ``labels_source``/``buckets_source``. Exit status 2 when
the archive lacks the files.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import tarfile
import zipfile
from typing import Any

KINDS = {"_gauge_cls": "gauge", "_counter_cls": "counter", "_histogram_cls": "histogram",
         "Gauge": "gauge", "Counter": "counter", "Histogram": "histogram", "Summary": "summary"}
FILES = ("vllm/v1/metrics/loggers.py", "vllm/v1/metrics/perf.py")
SGLANG_FILE = "sglang/srt/observability/metrics_collector.py"
LLAMACPP_FILE = "vendor/llama.cpp/tools/server/server-task.cpp"
_CPP_VECTOR = re.compile(r"const std::vector<metric_item> (counters|gauges) = \{(.*?)\n    \};", re.S)
_CPP_ITEM = re.compile(r'\{\s*"(\w+)",\s*"([^"]*)",')
BUCKETS_FILE = "vllm/v1/metrics/buckets.py"  # 0.34: default buckets per family, histogram_buckets(family)
MAX_MEMBER = 4 * 1024 * 1024  # bytes: these files are far smaller


def _read(archive: tarfile.TarFile | zipfile.ZipFile, path: str) -> str | None:
    """The file whose archive path ends in ``path`` (below the sdist's top directory, or ``python/``)."""
    if isinstance(archive, zipfile.ZipFile):
        for info in archive.infolist():
            if info.filename.endswith(path) and info.file_size <= MAX_MEMBER:
                return archive.read(info).decode()
        return None
    for member in archive.getmembers():
        if member.isfile() and member.name.endswith("/" + path) and member.size <= MAX_MEMBER:
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
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "keys"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "labels"):
        return ["<labels>"], None  # SGLang: the collector's base labels
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "list" and node.args:
        return _value(node.args[0], env, source)
    if isinstance(node, ast.List) and any(isinstance(e, ast.Starred) for e in node.elts):
        items: list[Any] = []
        for e in node.elts:
            value, _ = _value(e.value if isinstance(e, ast.Starred) else e, env, source)
            if value is None:
                return None, ast.get_source_segment(source, node)
            items += list(value) if isinstance(e, ast.Starred) else [value]
        return items, None
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
    owner = {id(f): c.name for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in ast.walk(c)}
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        env = {**module_env, **_literals(func, buckets)}
        for call in ast.walk(func):
            if not isinstance(call, ast.Call):
                continue
            kind = (call.func.attr if isinstance(call.func, ast.Attribute) and call.func.attr.startswith("_")
                    else call.func.id if isinstance(call.func, ast.Name) else None)
            if kind not in KINDS:
                continue
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            name, _ = _value(kw.get("name"), env, source)
            if not isinstance(name, str):
                continue
            doc, doc_src = _value(kw.get("documentation"), env, source)
            labels, labels_src = _value(kw.get("labelnames"), env, source)
            family: dict[str, Any] = {"name": name, "type": KINDS[kind], "collector": owner.get(id(func)),
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


def _open(path: str) -> tarfile.TarFile | zipfile.ZipFile:
    return zipfile.ZipFile(path) if path.endswith(".whl") else tarfile.open(path)


def sglang(path: str) -> int:
    with _open(path) as archive:
        text = _read(archive, SGLANG_FILE)
    if text is None:
        print(f"extract_metrics.py: {path} has no {SGLANG_FILE}", file=sys.stderr)
        return 2
    version = path.rsplit("/", 1)[-1].removeprefix("sglang-").split("-")[0].removesuffix(".tar.gz")
    json.dump({"version": version, "source": f"https://pypi.org/project/sglang/{version}/, {SGLANG_FILE}",
               "families": families(text)}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def llamacpp(path: str) -> int:
    with _open(path) as archive:
        text = _read(archive, LLAMACPP_FILE)
    vectors = {kind: body for kind, body in _CPP_VECTOR.findall(text or "")}
    if text is None or set(vectors) != {"counters", "gauges"}:
        print(f"extract_metrics.py: {path} has no metrics vectors in {LLAMACPP_FILE}", file=sys.stderr)
        return 2
    version = path.rsplit("/", 1)[-1].removeprefix("llama_cpp_python-").removesuffix(".tar.gz")
    out = [{"name": f"llamacpp:{name}", "type": kind.removesuffix("s"), "documentation": doc}
           for kind in ("counters", "gauges") for name, doc in _CPP_ITEM.findall(vectors[kind])]
    json.dump({"version": version, "source": f"https://pypi.org/project/llama-cpp-python/{version}/ (sdist), "
               f"{LLAMACPP_FILE}", "content_type": "text/plain; version=0.0.4", "families": out},
              sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("vllm", "sglang", "llamacpp"):
        print("usage: extract_metrics.py vllm|sglang|llamacpp ARCHIVE", file=sys.stderr)
        return 2
    if argv[0] == "sglang":
        return sglang(argv[1])
    if argv[0] == "llamacpp":
        return llamacpp(argv[1])
    argv = argv[1:]
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
