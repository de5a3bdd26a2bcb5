"""The cluster inventory: which nodes exist and where their endpoints are.

It is the single source of node names for the generated ``prometheus.yml`` (the ``node`` label) and
for the query module, which rejects any node name it does not list. Example::

    cluster: dgx-spark
    nodes:
      - name: spark-01
        exporter: 10.0.0.11:19400      # spark-exporter (required)
        vllm: 10.0.0.11:8000           # optional: dcgm_exporter, node_exporter, vllm, sglang,
                                       #   llamacpp, spark
      - name: spark-02
        exporter: 10.0.0.12:19400
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..settings import ConfigError, load_yaml_file

ENDPOINT_KINDS = ("exporter", "dcgm_exporter", "node_exporter", "vllm", "sglang", "llamacpp", "spark")
# The inference servers among them: the key is also the job name and the ``engine`` of the inference rollup.
INFERENCE_KINDS = ("vllm", "sglang", "llamacpp")
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62})")  # used with fullmatch only
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # one DNS label
_HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(?:\.{_LABEL})*")


class InventoryError(ConfigError):
    """The inventory file is unreadable or invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class Node:
    """One inventory node: its name and ``host:port`` endpoints (exporter required, the others optional)."""

    name: str
    exporter: str
    dcgm_exporter: str | None = None
    node_exporter: str | None = None
    vllm: str | None = None
    sglang: str | None = None
    llamacpp: str | None = None
    spark: str | None = None

    def endpoint(self, kind: str) -> str | None:
        """The ``host:port`` of endpoint ``kind`` (one of ENDPOINT_KINDS), or None when not set."""
        return getattr(self, kind)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Inventory:
    """The cluster name and its nodes, in file order."""

    cluster: str
    nodes: tuple[Node, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The node names, in file order."""
        return tuple(n.name for n in self.nodes)

    def get(self, name: str) -> Node | None:
        """The node called ``name``, or None."""
        for n in self.nodes:
            if n.name == name:
                return n
        return None


def valid_node_name(name: object) -> bool:
    """True for a str of letters, digits, ``.``, ``_``, ``-``, 1-63 long, starting with a letter or digit."""
    return isinstance(name, str) and bool(_NAME_RE.fullmatch(name))


def check_address(addr: object) -> str:
    """Validate ``host:port`` (host name, IPv4, or ``[IPv6]``); return it unchanged or raise ValueError."""
    if not isinstance(addr, str):
        raise ValueError(f"expected host:port, got {type(addr).__name__}")
    host, sep, port = addr.rpartition(":")
    # fullmatch and [0-9]: "$" would let a trailing newline through, isdigit() non-ASCII digits.
    if not sep or not host or not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        raise ValueError(f"malformed address {addr!r} (expected host:port with a port from 1 to 65535)")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"malformed address {addr!r}")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"malformed IPv6 address in {addr!r}") from None
        return addr
    if not _HOSTNAME_RE.fullmatch(host):
        raise ValueError(f"malformed host in {addr!r}")
    if re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ValueError(f"malformed IPv4 address in {addr!r}") from None
    return addr


def parse_inventory(data: Any, source: str) -> Inventory:
    """An Inventory from parsed YAML ``data`` (``source`` names it in errors).

    Raises InventoryError for a non-mapping, unknown keys, a bad cluster name, no nodes, or a node with a
    missing, invalid or duplicate name, no exporter, or an invalid ``host:port``.
    """
    def err(msg: str) -> InventoryError:
        return InventoryError(f"inventory {source}: {msg}")

    if not isinstance(data, Mapping):
        raise err("top level must be a mapping with 'cluster' and 'nodes'")
    for k in data:
        if k not in ("cluster", "nodes"):
            raise err(f"unknown key {k!r} (expected cluster, nodes)")
    cluster = data.get("cluster")
    if not isinstance(cluster, str) or not _NAME_RE.fullmatch(cluster):
        raise err("key 'cluster': required, a name of letters, digits, '.', '_' or '-'")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise err("key 'nodes': required, a non-empty list")
    nodes: list[Node] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_nodes):
        where = f"nodes[{i}]"
        if not isinstance(raw, Mapping):
            raise err(f"{where}: must be a mapping with 'name' and 'exporter'")
        for k in raw:
            if k != "name" and k not in ENDPOINT_KINDS:
                raise err(f"{where}: unknown key {k!r} (expected name, {', '.join(ENDPOINT_KINDS)})")
        name = raw.get("name")
        if name is None:
            raise err(f"{where}: missing 'name'")
        if not valid_node_name(name):
            raise err(f"{where}: invalid name {name!r} (letters, digits, '.', '_', '-'; at most 63)")
        where = f"node {name!r}"
        if name in seen:
            raise err(f"{where}: duplicate node name")
        seen.add(name)
        if raw.get("exporter") is None:
            raise err(f"{where}: missing 'exporter' (host:port of its spark-exporter)")
        endpoints: dict[str, str | None] = {}
        for kind in ENDPOINT_KINDS:
            value = raw.get(kind)
            if value is None:
                endpoints[kind] = None
                continue
            try:
                endpoints[kind] = check_address(value)
            except ValueError as e:
                raise err(f"{where}: key {kind!r}: {e}") from None
        nodes.append(Node(name=name, **endpoints))  # type: ignore[arg-type]
    return Inventory(cluster=cluster, nodes=tuple(nodes))


def load_inventory(path: str) -> Inventory:
    """The Inventory in the YAML file at ``path``.

    Raises InventoryError when the file cannot be read (guarded read), is not YAML, or is invalid.
    """
    try:
        data = load_yaml_file(path, "inventory")
    except ConfigError as e:
        raise InventoryError(str(e)) from None
    return parse_inventory(data, path)
