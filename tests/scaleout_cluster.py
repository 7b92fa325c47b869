"""Processes for the scale-out tests: engine replicas and job workers (model doubles), HAProxy.

HAProxy runs deploy/haproxy/haproxy.cfg itself, with only its ``bind`` and the compose
``server-template`` line swapped for loopback addresses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.engine_server import free_port
from tingshuo.core.paths import repo_root

HAPROXY_CFG = repo_root() / "deploy" / "haproxy" / "haproxy.cfg"


@dataclass
class Proc:
    """A child process with its log file."""

    proc: subprocess.Popen[bytes]
    log: Path
    base: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, cwd=repo_root(), stdout=fh, stderr=subprocess.STDOUT, env=env)


def wait_until(check, timeout: float, what: str, logs: list[Proc] = ()) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, OSError):
            if check():
                return
        time.sleep(0.1)
    tails = "\n".join(f"--- {p.log.name}\n{p.log_text()[-2000:]}" for p in logs)
    pytest.fail(f"timed out waiting for {what}\n{tails}")


def start_engine(tmp: Path, name: str, sets: dict[str, str], delay: float = 0.0) -> Proc:
    """An engine process on the doubles; returns once /readyz answers 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "tests.engine_double_process", "--port", str(port)]
    cmd += ["--delay", str(delay)]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    p = Proc(_spawn(cmd, tmp / f"{name}.log"), tmp / f"{name}.log", f"http://127.0.0.1:{port}")
    wait_until(
        lambda: p.proc.poll() is None and httpx.get(p.base + "/readyz").status_code == 200,
        60,
        f"engine {name}",
        [p],
    )
    return p


def start_worker(tmp: Path, name: str, sets: dict[str, str], delay: float = 0.0) -> Proc:
    """A job worker process on the doubles; returns once arq is polling the queue."""
    cmd = [sys.executable, "-m", "tests.engine_double_process", "--worker"]
    cmd += ["--results", str(tmp / f"{name}-results"), "--delay", str(delay)]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    p = Proc(_spawn(cmd, tmp / f"{name}.log"), tmp / f"{name}.log")
    wait_until(
        lambda: p.proc.poll() is None and "Starting worker" in p.log_text(),
        60,
        f"worker {name}",
        [p],
    )
    return p


def haproxy_config(port: int, engines: list[str]) -> str:
    """deploy/haproxy/haproxy.cfg on ``127.0.0.1:port`` in front of ``engines`` (base URLs)."""
    text = HAPROXY_CFG.read_text()
    assert "    bind :8080\n" in text and "server-template engine" in text
    text = text.replace("    bind :8080\n", f"    bind 127.0.0.1:{port}\n")
    servers = "".join(
        f"    server engine{i + 1} {base.removeprefix('http://')} check\n"
        for i, base in enumerate(engines)
    )
    lines = text.splitlines(keepends=True)
    return "".join(servers if "server-template engine" in ln else ln for ln in lines)


@contextlib.contextmanager
def haproxy(tmp: Path, engines: list[str]) -> Iterator[Proc]:
    """HAProxy in the foreground (-db) until the block ends; waits for every server UP."""
    binary = shutil.which("haproxy")
    if binary is None:
        pytest.skip("haproxy not installed (apt-get install haproxy; .ci/run does)")
    port = free_port()
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(haproxy_config(port, engines))
    stats = tmp / "haproxy.sock"
    # the runtime API, to read server states in the test
    (tmp / "stats.cfg").write_text(f"global\n    stats socket {stats} level admin\n")
    cmd = [binary, "-db", "-f", str(tmp / "stats.cfg"), "-f", str(cfg)]
    p = Proc(_spawn(cmd, tmp / "haproxy.log"), tmp / "haproxy.log", f"http://127.0.0.1:{port}")
    p.extra["stats"] = str(stats)
    try:
        wait_until(
            lambda: p.proc.poll() is None and server_states(p).count("UP") == len(engines),
            30,
            "HAProxy to see every engine UP",
            [p],
        )
        yield p
    finally:
        p.stop(signal.SIGUSR1, 10)  # soft stop


def server_states(proxy: Proc) -> list[str]:
    """The state of each engine server as HAProxy's health checks see it (UP, DOWN...)."""
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(proxy.extra["stats"])
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = [r.split(",") for r in data.decode().splitlines() if r and not r.startswith("#")]
    return [r[17] for r in rows if r[0] == "engines" and r[1] not in ("BACKEND", "FRONTEND")]
