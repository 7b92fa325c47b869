"""Two engine processes sharing one real Redis act as one: shared cache and shared limits.

Starts a real redis-server (conftest) and two ``tingshuo serve`` processes on the default
models (Whisper + Kokoro), both with ``redis_url`` set. A phrase synthesized by the first is
a cache hit in the second (same samples), a per-key request limit holds across both, a
long-text job posted to one is run from the shared queue and served by the other.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from tests.engine_server import free_port
from tingshuo.core.paths import repo_root
from tingshuo.engine.security.keys import generate_key, hash_key

pytestmark = pytest.mark.slow
KEY = generate_key()
KEY2 = generate_key()  # a fresh bucket for the rate-limit part
KEY3 = generate_key()  # polling the job
LIMIT = 20  # requests per minute per key, shared by both engines


@contextlib.contextmanager
def engine_process(redis_url: str, log_path) -> Iterator[str]:  # noqa: ANN001
    port = free_port()
    sets = {
        "redis_url": redis_url,
        "log_level": "WARNING",
        "server.warmup": "false",
        "security.auth": "true",
        "security.api_key_hashes": f'["{hash_key(KEY)}", "{hash_key(KEY2)}", "{hash_key(KEY3)}"]',
        "security.token_secret": "shared-secret-for-both",
        "security.http_requests_per_min": str(LIMIT),
        "server.job_workers": "1",
    }
    cmd = [sys.executable, "-m", "tingshuo.engine.cli"]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=repo_root(), stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(base: str, log_path, timeout: float = 600) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.get(base + "/readyz", timeout=2)
            if r.status_code == 200:
                return
            reason = r.json().get("reason", "")
            if reason not in ("loading", ""):
                pytest.skip(f"engine could not load its models: {reason}")
        time.sleep(1)
    with open(log_path) as fh:
        pytest.fail(f"engine not ready after {timeout} s; log:\n{fh.read()[-3000:]}")


def cache_counts(base: str) -> tuple[float, float]:
    text = httpx.get(base + "/metrics").text
    hits = float(re.search(r"^tingshuo_cache_hits_total (\S+)", text, re.M).group(1))
    misses = float(re.search(r"^tingshuo_cache_misses_total (\S+)", text, re.M).group(1))
    return hits, misses


def test_two_engines_share_cache_and_rate_limits(redis_url: str, tmp_path) -> None:  # noqa: ANN001
    auth = {"X-API-Key": KEY}
    with (
        engine_process(redis_url, tmp_path / "a.log") as a,
        engine_process(redis_url, tmp_path / "b.log") as b,
    ):
        wait_ready(a, tmp_path / "a.log")
        wait_ready(b, tmp_path / "b.log")
        body = {"text": "今天的天气真不错，我们出去走走吧。", "format": "base64"}

        # 1. A synthesizes (miss, stored in Redis); B gets the same audio from the cache.
        assert cache_counts(a) == (0.0, 0.0) and cache_counts(b) == (0.0, 0.0)
        ra = httpx.post(a + "/api/synthesize", json=body, headers=auth, timeout=120)
        assert ra.status_code == 200, ra.text
        assert cache_counts(a) == (0.0, 1.0)
        with redis.Redis.from_url(redis_url) as client:  # stored in Redis, not on a local disk
            assert client.keys("tingshuo:tts:*"), "the engine did not use the shared cache"
        rb = httpx.post(b + "/api/synthesize", json=body, headers=auth, timeout=120)
        assert rb.status_code == 200, rb.text
        assert cache_counts(b) == (1.0, 0.0)  # a hit in the other process
        wav_a = base64.b64decode(ra.json()["audio_base64"])
        wav_b = base64.b64decode(rb.json()["audio_base64"])
        assert len(wav_a) > 20_000 and wav_a == wav_b

        # 2. One per-key limit across both engines: alternating requests are allowed up to
        #    LIMIT (plus what refilled meanwhile at LIMIT/60 per second), not 2 x LIMIT as two
        #    separate buckets would allow; then 429 on whichever engine is asked.
        auth2 = {"X-API-Key": KEY2}
        t0, allowed = time.monotonic(), 0
        while httpx.get((a, b)[allowed % 2] + "/api/voices", headers=auth2).status_code == 200:
            allowed += 1
            assert allowed < 2 * LIMIT, "each engine kept its own bucket"
        refill = (time.monotonic() - t0) * LIMIT / 60
        assert LIMIT <= allowed <= LIMIT + refill + 1, (allowed, refill)
        for base in (a, b):
            r = httpx.get(base + "/api/voices", headers=auth2)
            assert r.status_code == 429 and r.json()["error"]["code"] == "rate.requests"

        # 3. A long-text job posted to A is queued in Redis, run by whichever engine claims
        #    it, and visible and downloadable on B.
        job = httpx.post(
            a + "/api/jobs", json={"text": "这是一个长文本任务。" * 3}, headers=auth, timeout=30
        ).json()
        deadline = time.monotonic() + 300
        poll = {"X-API-Key": KEY3}
        while (view := httpx.get(f"{b}/api/jobs/{job['id']}", headers=poll).json()).get(
            "status"
        ) not in ("done", "failed"):
            assert time.monotonic() < deadline and not isinstance(view.get("error"), dict), view
            time.sleep(2)
        assert view["status"] == "done", view
        wav = httpx.get(f"{b}/api/jobs/{job['id']}/audio", headers=poll, timeout=30)
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and len(wav.content) > 50_000

        # 4. A token issued by one engine is accepted by the other (shared token_secret).
        token = httpx.post(a + "/api/token", headers=auth).json()["token"]
        r = httpx.post(b + "/api/token", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["token"] != token
