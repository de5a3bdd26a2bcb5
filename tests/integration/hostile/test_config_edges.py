"""Config files with a NUL byte or mixed bcrypt costs, against the real commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import bcrypt
import pytest

from helpers.procs import PYTHON, free_port, tempdir

# (command prefix, flag) for every file a command reads as configuration.
FILES = [
    ((), "--config.file", "collect:\n  timeout: 5s\n"),
    ((), "--web.config.file", "http_server_config:\n  headers: {}\n"),
    ((), "--gpu.replay", '{"version": 1}\n'),
    (("api",), "--config.file", "prometheus:\n  timeout: 5s\n"),
    (("api",), "--web.config.file", "http_server_config:\n  headers: {}\n"),
    (("api",), "--inventory", "cluster: c\nnodes: []\n"),
    (("api",), "--prometheus.http-config-file", "follow_redirects: true\n"),
    (("api",), "--api.token-file", "0123456789abcdef0123\n"),
    (("query",), "--inventory", "cluster: c\nnodes: []\n"),
]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "spark_exporter", *argv], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize(("command", "flag", "text"), FILES, ids=[" ".join((*c, f)) for c, f, _ in FILES])
def test_a_nul_byte_in_a_config_file_is_one_line_and_exit_2(command: tuple[str, ...], flag: str, text: str) -> None:
    """A NUL byte anywhere in a config file is one error line naming the file and exit status 2."""
    with tempdir("nul") as d:
        f = Path(d) / "file"
        f.write_text(text[:5] + "\0" + text[5:])
        listen = [f"--web.listen-address=127.0.0.1:{free_port()}"] if command != ("query",) else []
        done = run(*command, *listen, f"{flag}={f}", "--check-config")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and str(f) in lines[0] and "Traceback" not in done.stderr, done.stderr


def hashed(cost: int) -> str:
    return bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=cost)).decode()


@pytest.mark.parametrize("command", [(), ("api",)], ids=["exporter", "api"])
def test_mixed_bcrypt_costs_draw_a_warning(command: tuple[str, ...]) -> None:
    """--check-config warns when basic_auth_users mixes bcrypt costs, and is quiet when they agree."""
    with tempdir("bcrypt") as d:
        mixed, same = Path(d) / "mixed.yml", Path(d) / "same.yml"
        mixed.write_text(f"basic_auth_users:\n  a: '{hashed(4)}'\n  b: '{hashed(5)}'\n")
        same.write_text(f"basic_auth_users:\n  a: '{hashed(4)}'\n  b: '{hashed(4)}'\n")
        listen = f"--web.listen-address=127.0.0.1:{free_port()}"
        warned = run(*command, listen, f"--web.config.file={mixed}", "--check-config")
        quiet = run(*command, listen, f"--web.config.file={same}", "--check-config")
    assert warned.returncode == 0 and quiet.returncode == 0, warned.stderr + quiet.stderr
    assert "mixes bcrypt costs 4, 5" in warned.stderr and warned.stderr.count("\n") == 1
    assert "warning" not in quiet.stderr
