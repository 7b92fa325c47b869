"""Content-addressed on-disk synthesis cache with LRU eviction.

The key is the sha256 of everything that changes the audio: normalised text, emotion,
intensity, rate, pitch, volume, voice, backend and model version. Entries are float32
WAV files (exact samples, sample rate in the header) under ``<dir>/<k[:2]>/<k>.wav``.

- Writers never expose partial files: each entry is written to a temporary file in the
  same directory and moved into place with ``os.replace`` (atomic on POSIX), so several
  threads or processes may store the same or different keys at once.
- A hit refreshes the file's mtime; when the total size passes ``max_bytes`` the least
  recently used entries are deleted until it is back under the bound.
- A disk error (full disk, read-only or vanished directory) disables the cache with one
  warning; synthesis carries on uncached. Hits, misses, stores, evictions and errors are
  counted (``stats()``), for ``/metrics``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.core.audio import Audio
from tingshuo.tts.base import Style, Synthesizer, VoiceInfo

log = logging.getLogger(__name__)

__all__ = ["SynthesisCache", "CachedSynthesizer", "cache_key"]

RESCAN_EVERY = 64  # stores between full directory scans (other processes add files too)


def cache_key(
    text: str,
    style: Style,
    voice: str,
    backend: str,
    model_version: str,
) -> str:
    """sha256 hex over the canonical JSON of everything that determines the audio."""
    fields = {
        "text": text,
        "emotion": str(style.emotion),
        "intensity": round(float(style.intensity), 4),
        "rate": round(float(style.rate), 4),
        "pitch": round(float(style.pitch), 4),
        "volume": round(float(style.volume), 4),
        "voice": voice,
        "backend": backend,
        "model_version": model_version,
    }
    blob = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


class SynthesisCache:
    """Size-bounded LRU cache of synthesized audio on disk (safe across processes)."""

    def __init__(self, directory: str | Path, max_bytes: int = 512 * 1024 * 1024) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.evictions = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None
        self._stores_since_scan = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.wav"

    def _disable(self, action: str, exc: OSError) -> None:
        with self._lock:
            self.errors += 1
            if self.enabled:
                self.enabled = False
                log.warning(
                    "synthesis cache disabled after a disk error while %s in %s: %s",
                    action,
                    self.directory,
                    exc,
                )

    def get(self, key: str) -> Audio | None:
        """The cached audio for ``key`` or ``None`` (counts a hit or a miss)."""
        if not self.enabled:
            return None
        path = self._path(key)
        try:
            import soundfile as sf

            data, rate = sf.read(str(path), dtype="float32", always_2d=False)
            os.utime(path)  # LRU: a hit makes the entry recent
        except FileNotFoundError:
            self._miss()
            return None
        except OSError as exc:
            self._disable("reading", exc)
            return None
        except Exception:  # noqa: BLE001 - a corrupt entry (soundfile error): drop it
            path.unlink(missing_ok=True)
            self._miss()
            return None
        with self._lock:
            self.hits += 1
        return Audio(np.asarray(data, dtype=np.float32).reshape(-1), int(rate))

    def _miss(self) -> None:
        with self._lock:
            self.misses += 1
        return None

    def put(self, key: str, audio: Audio) -> bool:
        """Store ``audio`` under ``key`` atomically; evict LRU entries over the bound.

        Returns whether it was stored (``False`` when the cache is disabled or failed).
        """
        if not self.enabled:
            return False
        import soundfile as sf

        path = self._path(key)
        tmp: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=path.parent)
            tmp = Path(name)
            with os.fdopen(fd, "wb") as f:
                sf.write(f, audio.samples, audio.sample_rate, format="WAV", subtype="FLOAT")
            size = tmp.stat().st_size
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            self._disable("writing", exc)
            return False
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        with self._lock:
            self.stores += 1
            self._stores_since_scan += 1
            if self._approx_bytes is not None:
                self._approx_bytes += size
            must_scan = (
                self._approx_bytes is None
                or self._approx_bytes > self.max_bytes
                or self._stores_since_scan >= RESCAN_EVERY
            )
        if must_scan:
            self.evict()
        return True

    def _entries(self) -> list[tuple[float, int, Path]]:
        out = []
        for p in self.directory.glob("*/*.wav"):
            try:
                st = p.stat()
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            out.append((st.st_mtime, st.st_size, p))
        return out

    def evict(self) -> int:
        """Delete least-recently-used entries until the total is within ``max_bytes``.

        Returns the number of entries removed.
        """
        try:
            entries = sorted(self._entries())
            total = sum(size for _, size, _ in entries)
            removed = 0
            for _, size, p in entries:
                if total <= self.max_bytes:
                    break
                try:
                    p.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
                total -= size
        except OSError as exc:
            self._disable("evicting", exc)
            return 0
        with self._lock:
            self.evictions += removed
            self._approx_bytes = total
            self._stores_since_scan = 0
        return removed

    def size_bytes(self) -> int:
        """Current total size of the entries on disk."""
        return sum(size for _, size, _ in self._entries())

    def stats(self) -> dict[str, Any]:
        """Counters for metrics: hits, misses, stores, evictions, errors, enabled."""
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "stores": self.stores,
                "evictions": self.evictions,
                "errors": self.errors,
                "enabled": self.enabled,
            }


class CachedSynthesizer:
    """Any :class:`~tts.base.Synthesizer` with a :class:`SynthesisCache` in front of it.

    Other attributes (``plan``, ``default_voice`` …) are passed through to the wrapped one.
    """

    def __init__(self, inner: Synthesizer, cache: SynthesisCache) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.model_version = inner.model_version

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def voices(self) -> list[VoiceInfo]:
        """The wrapped synthesizer's voices."""
        return self.inner.voices()

    def key(self, text: str, style: Style | None, voice: str | None) -> str:
        """The cache key of a request (text normalised; SSML keyed on its markup)."""
        from tingshuo.tts.ssml import is_ssml
        from tingshuo.tts.textnorm import normalize

        resolve = getattr(self.inner, "resolve_voice", None)
        name = resolve(voice) if resolve else (voice or "")
        canon = " ".join(text.split()) if is_ssml(text) else normalize(text.strip())
        return cache_key(canon, style or Style(), name, self.name, self.model_version)

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        """Cached synthesis (blocking)."""
        key = self.key(text, style, voice)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        audio = self.inner.synthesize(text, style, voice)
        if len(audio.samples):
            self.cache.put(key, audio)
        return audio

    async def stream(
        self,
        text: str,
        style: Style | None = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        """A hit comes back as one chunk; a miss streams per segment and is stored once
        the whole text has been rendered (not when the consumer stops early)."""
        key = self.key(text, style, voice)
        # file and Redis round trips go to a thread, never on the event loop
        hit = await asyncio.to_thread(self.cache.get, key)
        if hit is not None:
            yield hit
            return
        parts: list[Audio] = []
        async for chunk in self.inner.stream(text, style, voice, executor):
            parts.append(chunk)
            yield chunk
        if parts:
            audio = Audio.concat(parts)
            if len(audio.samples):
                await asyncio.to_thread(self.cache.put, key, audio)
