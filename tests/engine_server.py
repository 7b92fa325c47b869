"""Run the engine on 127.0.0.1:<free port> in a background thread, for socket-level tests."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tingshuo.engine.config import EngineConfig
from tingshuo.engine.services import Services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def engine_test_config(**server: object) -> EngineConfig:
    """Loopback on a free port, a fresh job database (no jobs resumed from other runs)."""
    config = EngineConfig()
    server.setdefault(
        "jobs_db", str(Path(tempfile.mkdtemp(prefix="tingshuo-jobs-")) / "jobs.sqlite3")
    )
    srv = dataclasses.replace(config.server, host="127.0.0.1", port=free_port(), **server)
    return dataclasses.replace(config, server=srv, log_level="WARNING")


@contextlib.contextmanager
def running_server(
    config: EngineConfig, services: Services | None, timeout: float = 300, loop: str = "auto"
) -> Iterator[str]:
    """Serve until the block ends (graceful shutdown); yields the base URL."""
    from tingshuo.engine.app import create_app
    from tingshuo.engine.serve_cli import build_server

    app = create_app(config, services)
    server = build_server(config, app, loop)
    thread = threading.Thread(target=server.run, name="test-engine", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{config.server.port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("server thread died during start-up")
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("engine did not become ready")
            time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(60)
