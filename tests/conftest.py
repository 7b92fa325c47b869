"""Shared pytest fixtures: paths to ../shared evaluation data and an isolated cache dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.core.paths import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` beside the checkout (evaluation data, reference facts)."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(f"../shared not found at {path}: evaluation data unavailable")
    return path


@pytest.fixture(scope="session")
def asr_dev(shared: Path) -> Path:
    """The real Mandarin clips of ../shared/eval/asr-dev."""
    return shared / "eval" / "asr-dev"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free loopback port in a temp dir (skips when not installed)."""
    import shutil
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (apt-get install redis-server; .ci/run does)")
    import redis

    workdir = tmp_path_factory.mktemp("redis")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.skip("redis-server did not start")
            time.sleep(0.05)
    yield url
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """URL of the test Redis, emptied before each test."""
    import redis

    with redis.Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server
