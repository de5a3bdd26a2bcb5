"""Reading the files the programs are pointed at: config, web config, inventory, token files.

Every such file is read the same guarded way, because each can be a careless or hostile path:

* regular files only: a FIFO, a device (``/dev/zero``) or a directory is refused after ``os.stat``
  and before any read, and the file is opened with ``O_NONBLOCK`` so that a FIFO swapped in after
  the check cannot block the open;
* at most :data:`MAX_FILE_BYTES`; UTF-8 text only;
* YAML is parsed by PyYAML's safe loader with a nesting limit and a limit on the size of the
  document once aliases are expanded (an "alias bomb" is a few hundred bytes that expand to
  billions of nodes).

Every failure is a one-line :class:`ConfigError` naming the file.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import yaml

from .values import ConfigError

MAX_FILE_BYTES = 1 << 20  # 1 MiB: the largest of these files (an inventory) is a few KiB
MAX_YAML_DEPTH = 32  # nesting levels
MAX_YAML_NODES = 100_000  # nodes after expanding aliases


def read_text_file(path: str, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``limit`` bytes (default MAX_FILE_BYTES); else
    ConfigError naming it. A FIFO or device is refused without being read, so nothing blocks."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what} {path}: not a regular file")
        if st.st_size > limit:
            raise ConfigError(f"{what} {path}: larger than the limit of {limit} bytes")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between stat and open
                raise ConfigError(f"{what} {path}: not a regular file")
            data = b""
            while len(data) <= limit and (chunk := os.read(fd, limit + 1 - len(data))):
                data += chunk
        finally:
            os.close(fd)
    except OSError as e:
        raise ConfigError(f"{what} {path}: cannot read: {e.strerror or e}") from None
    if len(data) > limit:
        raise ConfigError(f"{what} {path}: larger than the limit of {limit} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {e.start})") from None


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than MAX_YAML_DEPTH."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(problem=f"nested deeper than {MAX_YAML_DEPTH} levels",
                                           problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """Node count with aliases expanded; shared nodes are counted once per reference, via memo."""
    known = memo.get(id(node))
    if known is not None:
        return known
    memo[id(node)] = MAX_YAML_NODES + 1  # a cycle counts as too large
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded_size(v, memo) for v in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    n = min(n, MAX_YAML_NODES + 1)
    memo[id(node)] = n
    return n


def parse_yaml(text: str, path: str, what: str) -> Any:
    """Parse one YAML document under the limits above; every failure is one line naming the file."""
    loader: _LimitedLoader | None = None
    try:
        # Inside the try: building the loader already reads the text, and a NUL byte or another
        # character YAML does not allow is a ReaderError from the constructor.
        loader = _LimitedLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise ConfigError(f"{what} {path}: invalid YAML: more than {MAX_YAML_NODES} nodes once "
                              "aliases are expanded")
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{what} {path}: invalid YAML{where}: {problem}") from None
    except (ValueError, TypeError, RecursionError) as e:  # e.g. a timestamp with month 13
        raise ConfigError(f"{what} {path}: invalid YAML: {str(e).splitlines()[0] if str(e) else e!r}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml_file(path: str, what: str = "config file") -> Any:
    """Read (guarded, see the module docstring) and parse a YAML file."""
    return parse_yaml(read_text_file(path, what), path, what)


def read_token_file(path: str, what: str = "token file") -> str:
    """A secret token: one word of at least 16 printable ASCII characters (surrounding blanks dropped)."""
    token = read_text_file(path, what).strip()
    if len(token) < 16 or not all("!" <= c <= "~" for c in token):
        raise ConfigError(f"{what} {path}: the token must be one word of at least 16 characters "
                          "(printable ASCII, no spaces)")
    return token
