"""Raw-socket HTTP for the hostile tests: bytes no well-behaved client library would send."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.procs import PYTHON, Proc, free_port, start_process, tempdir


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def parse_answer(data: bytes) -> Answer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return Answer(int(lines[0].split(" ", 2)[1]), headers, body)


def exchange(port: int, request: bytes, timeout: float = 10.0) -> Answer:
    """Send ``request`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return parse_answer(data)


def get(port: int, path: str, headers: dict[str, str] | None = None) -> Answer:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return exchange(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n".encode())


def closed_by_server(s: socket.socket, within: float) -> bool:
    """True when the server closes ``s`` (EOF or reset) within ``within`` seconds."""
    s.settimeout(within)
    try:
        while s.recv(4096):
            pass
        return True
    except ConnectionError:
        return True
    except TimeoutError:
        return False


def log_size(proc: Proc) -> int:
    try:
        return os.path.getsize(proc.log_path)
    except OSError:
        return 0


@contextlib.contextmanager
def api(*args: str, env: dict[str, str] | None = None) -> Iterator[Proc]:
    """``spark-exporter api`` on a free port against an unreachable Prometheus (errors are 503)."""
    port = free_port()
    with tempdir("api") as d:
        argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                f"--prometheus.url=http://127.0.0.1:{free_port()}", *args]
        proc = start_process("spark-exporter-api", argv, port, d, f"http://127.0.0.1:{port}/-/healthy", env=env)
        try:
            yield proc
        finally:
            proc.stop()


def with_nofile(limit: int, argv: list[str]) -> list[str]:
    """``argv`` run under a soft and hard RLIMIT_NOFILE of ``limit``."""
    code = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit})); "
            "os.execv(sys.argv[1], sys.argv[1:])")
    return [PYTHON, "-c", code, *argv]


def wait_until(predicate: Any, timeout: float) -> bool:
    """Poll ``predicate`` (exceptions count as False) until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def bcrypt_user_file(d: Path, user: str, password: str, cost: int = 10) -> Path:
    import bcrypt

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost)).decode()
    wc = d / "web.yml"
    wc.write_text(f"basic_auth_users:\n  {user}: '{hashed}'\n"
                  "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    return wc
