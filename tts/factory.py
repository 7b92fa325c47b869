"""Build the configured synthesizer; report which backends are ready (``tingshuo models``).

Backends are imported lazily, so choosing ``kokoro`` never imports torch and choosing
``sambert`` never touches onnxruntime. Each factory takes the ``tts`` config section
and the cache directory, nothing of the engine's.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tingshuo.tts.base import Synthesizer
    from tingshuo.tts.config import TTSConfig

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("kokoro", "sambert")


class UnknownBackendError(ValueError):
    """A synthesizer backend name that does not exist."""


def _check_backend(name: str) -> str:
    key = name.strip().lower()
    if key not in BACKENDS:
        raise UnknownBackendError(
            f"unknown TTS backend {name!r}; expected one of: {', '.join(BACKENDS)}"
        )
    return key


def with_model_dir(tc: TTSConfig, backend: str, model_dir: str) -> TTSConfig:
    """A copy of ``tc`` whose ``<backend>.model_dir`` is ``model_dir`` (CLI ``--model-dir``)."""
    key = _check_backend(backend)
    section = dataclasses.replace(getattr(tc, key), model_dir=str(model_dir))
    return dataclasses.replace(tc, **{key: section})


def _build_raw(tc: TTSConfig, cache_dir: Path, key: str) -> Synthesizer:
    if key == "kokoro":
        from tingshuo.tts.kokoro import KokoroSynthesizer

        return KokoroSynthesizer.from_config(tc, cache_dir)
    from tingshuo.tts.sambert import build as build_sambert

    return build_sambert(tc)


def build_synthesizer(
    tc: TTSConfig, cache_dir: Path, backend: str | None = None, redis_url: str = ""
) -> Synthesizer:
    """Load the synthesizer named by ``backend`` (default ``tc.backend``).

    The result is wrapped in the on-disk :class:`tts.cache.SynthesisCache` (under
    ``cache_dir/synthesis`` unless ``tc.cache.dir`` is set) when ``tc.cache.enabled``, or in
    the Redis cache shared by replicas when ``redis_url`` is given. Raises
    :class:`UnknownBackendError` for an unknown name and ``ModelNotFoundError`` when weights
    are missing.
    """
    key = _check_backend(backend or tc.backend)
    synth = _build_raw(tc, cache_dir, key)
    if not tc.cache.enabled:
        return synth
    from tingshuo.tts.cache import CachedSynthesizer, SynthesisCache

    if redis_url:  # replicas share one cache (tts/redis_cache.py)
        from tingshuo.tts.redis_cache import RedisSynthesisCache

        return CachedSynthesizer(synth, RedisSynthesisCache(redis_url))  # type: ignore[arg-type]
    directory = Path(tc.cache.dir).expanduser() if tc.cache.dir else cache_dir / "synthesis"
    return CachedSynthesizer(synth, SynthesisCache(directory, max_bytes=tc.cache.max_bytes))


def backend_status(tc: TTSConfig, cache_dir: Path) -> list[dict[str, Any]]:
    """One row per backend: ``name``, ``ready``, ``where`` (model location), ``detail``."""
    from tingshuo.tts import sambert
    from tingshuo.tts.kokoro_model import kokoro_status

    return [
        {"name": "kokoro", **kokoro_status(tc.kokoro, cache_dir)},
        {"name": "sambert", **sambert.backend_status(tc)},
    ]
