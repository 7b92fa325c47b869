"""tts.cache: hits, LRU eviction, concurrent writers (threads and processes), disk errors."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import Emotion
from tingshuo.core.paths import repo_root
from tingshuo.tts.base import Style, VoiceInfo
from tingshuo.tts.cache import CachedSynthesizer, SynthesisCache, cache_key


def _audio(seed: int, n: int = 4000) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio((rng.standard_normal(n) * 0.1).astype(np.float32), 24000)


def test_key_covers_every_field() -> None:
    base = cache_key("你好", Style(), "v", "kokoro", "m1")
    variants = [
        cache_key("你好。", Style(), "v", "kokoro", "m1"),
        cache_key("你好", Style(emotion=Emotion.SAD), "v", "kokoro", "m1"),
        cache_key("你好", Style(intensity=2.0), "v", "kokoro", "m1"),
        cache_key("你好", Style(rate=1.1), "v", "kokoro", "m1"),
        cache_key("你好", Style(pitch=1.0), "v", "kokoro", "m1"),
        cache_key("你好", Style(volume=0.5), "v", "kokoro", "m1"),
        cache_key("你好", Style(), "w", "kokoro", "m1"),
        cache_key("你好", Style(), "v", "sambert", "m1"),
        cache_key("你好", Style(), "v", "kokoro", "m2"),
    ]
    assert len({base, *variants}) == len(variants) + 1
    assert base == cache_key("你好", Style(), "v", "kokoro", "m1")


def test_hit_returns_exact_samples(tmp_path: Path) -> None:
    cache = SynthesisCache(tmp_path, max_bytes=10_000_000)
    key = cache_key("a", Style(), "v", "b", "m")
    assert cache.get(key) is None
    audio = _audio(1)
    assert cache.put(key, audio)
    hit = cache.get(key)
    assert hit is not None and hit.sample_rate == 24000
    np.testing.assert_array_equal(hit.samples, audio.samples)
    assert cache.stats()["hits"] == 1 and cache.stats()["misses"] == 1
    assert not list(tmp_path.rglob(".tmp-*"))


def test_lru_eviction_keeps_recently_used(tmp_path: Path) -> None:
    entry = len(_audio(0).to_wav_bytes()) * 2 + 200  # float32 entries are ~2x PCM16
    cache = SynthesisCache(tmp_path, max_bytes=entry * 3)
    keys = [f"{i:064x}" for i in range(3)]
    for i, k in enumerate(keys):
        cache.put(k, _audio(i))
        past = time.time() - 100 + i
        os.utime(cache._path(k), (past, past))
    assert cache.get(keys[0]) is not None  # touch the oldest: now most recent
    cache.put(f"{9:064x}", _audio(9))
    cache.evict()
    assert cache.size_bytes() <= entry * 3
    assert cache.get(keys[0]) is not None
    assert cache.get(keys[1]) is None  # the least recently used went first
    assert cache.stats()["evictions"] >= 1


def test_concurrent_thread_writers(tmp_path: Path) -> None:
    cache = SynthesisCache(tmp_path, max_bytes=50_000_000)
    audio = _audio(3)
    keys = [f"{i % 5:064x}" for i in range(40)]  # many writers per key
    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(lambda k: cache.put(k, audio), keys))
    for k in set(keys):
        got = cache.get(k)
        assert got is not None
        np.testing.assert_array_equal(got.samples, audio.samples)
    assert not list(tmp_path.rglob(".tmp-*"))


_WRITER = """
import sys
import numpy as np
from tingshuo.core.audio import Audio
from tingshuo.tts.cache import SynthesisCache

directory, seed = sys.argv[1], int(sys.argv[2])
cache = SynthesisCache(directory, max_bytes=50_000_000)
stored = 0
for i in range(10):
    rng = np.random.default_rng(i)
    audio = Audio((rng.standard_normal(4000) * 0.1).astype(np.float32), 24000)
    stored += bool(cache.put(f"{i:064x}", audio))  # every process writes the same keys
    cache.get(f"{(i + seed) % 10:064x}")  # and reads while the others write
print(stored)
"""


def test_concurrent_process_writers(tmp_path: Path) -> None:
    # Separate interpreters (not multiprocessing.Pool, which hangs when a worker dies)
    # writing the same keys at once: every put succeeds and no torn file is ever read.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), str(seed)],
            cwd=repo_root(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == "10"
    cache = SynthesisCache(tmp_path, max_bytes=50_000_000)
    for i in range(10):
        got = cache.get(f"{i:064x}")
        assert got is not None
        np.testing.assert_array_equal(got.samples, _audio(i).samples)
    assert not list(tmp_path.rglob(".tmp-*"))


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = SynthesisCache(tmp_path)
    key = f"{1:064x}"
    cache.put(key, _audio(1))
    cache._path(key).write_bytes(b"not a wav")
    assert cache.get(key) is None
    assert not cache._path(key).exists()


def test_unusable_dir_disables_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    cache = SynthesisCache(blocker / "sub")
    assert cache.put(f"{1:064x}", _audio(1)) is False
    assert cache.enabled is False and cache.stats()["errors"] == 1
    assert cache.get(f"{1:064x}") is None


class _CountingSynth:
    name = "fake"
    sample_rate = 24000
    model_version = "1"

    def __init__(self) -> None:
        self.calls = 0

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("v", "zh")]

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        self.calls += 1
        return _audio(len(text))


def test_cached_synthesizer_hits_and_survives_full_disk(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = _CountingSynth()
    synth = CachedSynthesizer(inner, SynthesisCache(tmp_path))
    a = synth.synthesize("今天是2019年1月31号")
    b = synth.synthesize("今天是二零一九年一月三十一号")  # same normalised text: a hit
    assert inner.calls == 1
    np.testing.assert_array_equal(a.samples, b.samples)
    synth.synthesize("今天是2019年1月31号", Style(emotion=Emotion.SAD))
    assert inner.calls == 2

    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("tingshuo.tts.cache.tempfile.mkstemp", no_space)
    full = CachedSynthesizer(inner, SynthesisCache(tmp_path / "full"))
    with caplog.at_level("WARNING"):
        out = full.synthesize("你好")
        out2 = full.synthesize("你好")
    assert len(out.samples) and len(out2.samples)  # synthesis goes on
    assert full.cache.enabled is False
    assert "synthesis cache disabled" in caplog.text
