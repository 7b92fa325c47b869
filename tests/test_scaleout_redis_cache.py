"""The Redis synthesis cache: exact round trip, shared across processes, survives Redis outages."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tingshuo.core.audio import Audio, read_audio
from tingshuo.core.paths import repo_root
from tingshuo.tts.redis_cache import RedisSynthesisCache


@pytest.fixture(scope="module")
def speech(asr_dev) -> Audio:
    """A real clip standing in for synthesized audio (the cache stores any Audio)."""
    return read_audio(asr_dev / "wav" / "firered_aishell2_IT0011W0001.wav", 24000)


def test_round_trip_is_exact_and_counted(redis_url: str, speech: Audio) -> None:
    cache = RedisSynthesisCache(redis_url)
    key = "a" * 64
    assert cache.get(key) is None
    assert cache.put(key, speech)
    hit = cache.get(key)
    assert hit is not None and hit.sample_rate == 24000
    np.testing.assert_array_equal(hit.samples, speech.samples)
    assert cache.stats() == {
        "hits": 1,
        "misses": 1,
        "stores": 1,
        "evictions": 0,
        "errors": 0,
        "enabled": True,
    }
    cache.close()


def test_entries_expire_and_oversize_entries_are_skipped(redis_url: str, speech: Audio) -> None:
    import redis

    cache = RedisSynthesisCache(redis_url, ttl_s=100, max_entry_bytes=1000)
    assert not cache.put("b" * 64, speech)  # larger than 1000 bytes
    small = Audio(np.zeros(10, np.float32), 16000)
    assert cache.put("c" * 64, small)
    with redis.Redis.from_url(redis_url) as r:
        assert 0 < r.ttl("tingshuo:tts:" + "c" * 64) <= 100
        assert not r.exists("tingshuo:tts:" + "b" * 64)
    cache.close()


def test_an_entry_made_by_one_process_is_a_hit_in_another(redis_url: str, speech: Audio) -> None:
    key = "d" * 64
    writer = RedisSynthesisCache(redis_url)
    assert writer.put(key, speech)
    code = textwrap.dedent(
        f"""
        import numpy as np
        from tingshuo.tts.redis_cache import RedisSynthesisCache
        cache = RedisSynthesisCache({redis_url!r})
        hit = cache.get({key!r})
        print(hit.sample_rate, hit.samples.size, float(np.abs(hit.samples).sum()))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo_root(), capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[0]) == 24000 and int(out[1]) == speech.samples.size
    assert float(out[2]) == pytest.approx(float(np.abs(speech.samples).sum()), rel=1e-6)
    writer.close()


def test_redis_down_means_uncached_with_one_warning(
    caplog: pytest.LogCaptureFixture, speech: Audio
) -> None:
    cache = RedisSynthesisCache("redis://127.0.0.1:1/0", retry_s=60)
    with caplog.at_level(logging.WARNING, logger="tingshuo.tts.redis_cache"):
        assert cache.get("e" * 64) is None
        assert not cache.enabled
        assert not cache.put("e" * 64, speech)  # skipped without another attempt
        assert cache.get("e" * 64) is None
    assert caplog.text.count("unavailable") == 1
    assert cache.stats()["errors"] == 1
    cache._down_until = 0.0  # retry time passed: tries again, fails again
    assert cache.get("e" * 64) is None and cache.stats()["errors"] == 2
