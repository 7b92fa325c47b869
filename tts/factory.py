"""Build the configured synthesizer; report which backends are ready (``tingshuo models``).

Backends are imported lazily, so choosing ``kokoro`` never imports torch and choosing
``sambert`` never touches onnxruntime. The ``sambert`` backend lives in ``tts.sambert``
(built separately); it is found through ``tts.sambert.build_synthesizer(config)``.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.config import cache_root

if TYPE_CHECKING:
    from engine.config import EngineConfig
    from tts.base import Synthesizer

log = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("kokoro", "sambert")


class UnknownBackendError(ValueError):
    """A synthesizer backend name that does not exist."""


class BackendUnavailableError(RuntimeError):
    """A known backend whose code or model is not present; the message says how to get it."""


def _check_backend(name: str) -> str:
    key = name.strip().lower()
    if key not in BACKENDS:
        raise UnknownBackendError(
            f"unknown TTS backend {name!r}; expected one of: {', '.join(BACKENDS)}"
        )
    return key


def with_model_dir(config: EngineConfig, backend: str, model_dir: str) -> EngineConfig:
    """A copy of ``config`` whose ``tts.<backend>.model_dir`` is ``model_dir`` (CLI ``--model-dir``)."""
    key = _check_backend(backend)
    section = dataclasses.replace(getattr(config.tts, key), model_dir=str(model_dir))
    tts = dataclasses.replace(config.tts, **{key: section})
    return dataclasses.replace(config, tts=tts)


def _build_raw(config: EngineConfig, key: str) -> Synthesizer:
    if key == "kokoro":
        from tts.kokoro import KokoroSynthesizer

        return KokoroSynthesizer.from_config(config)
    if importlib.util.find_spec("tts.sambert") is None:
        raise BackendUnavailableError(
            "the 'sambert' backend is not installed in this checkout (package tts.sambert is "
            "missing); use --backend kokoro"
        )
    module = importlib.import_module("tts.sambert")
    builder = getattr(module, "build_synthesizer", None)
    if builder is None:
        raise BackendUnavailableError(
            "tts.sambert does not provide build_synthesizer(config); this build of the sambert "
            "backend is incomplete"
        )
    return builder(config)


def build_synthesizer(config: EngineConfig, backend: str | None = None) -> Synthesizer:
    """Load the synthesizer named by ``backend`` (default ``config.tts.backend``).

    The result is wrapped in the on-disk :class:`tts.cache.SynthesisCache` when
    ``config.tts.cache.enabled``. Raises :class:`UnknownBackendError` for an unknown name,
    :class:`BackendUnavailableError` or ``ModelNotFoundError`` when code or weights are missing.
    """
    key = _check_backend(backend or config.tts.backend)
    synth = _build_raw(config, key)
    if not config.tts.cache.enabled:
        return synth
    from tts.cache import CachedSynthesizer, SynthesisCache

    cache_dir = (
        Path(config.tts.cache.dir).expanduser()
        if config.tts.cache.dir
        else cache_root(config) / "synthesis"
    )
    if config.redis_url:  # replicas share one cache (engine/scaleout/redis_cache.py)
        from engine.scaleout.redis_cache import RedisSynthesisCache

        return CachedSynthesizer(synth, RedisSynthesisCache(config.redis_url))  # type: ignore[arg-type]
    cache = SynthesisCache(cache_dir, max_bytes=config.tts.cache.max_bytes)
    return CachedSynthesizer(synth, cache)


def backend_status(config: EngineConfig) -> list[dict[str, Any]]:
    """One row per backend: ``name``, ``ready``, ``where`` (model location), ``detail``."""
    rows: list[dict[str, Any]] = []
    from tts.kokoro_model import kokoro_status

    rows.append({"name": "kokoro", **kokoro_status(config)})
    sambert_dir = config.tts.sambert.model_dir
    if importlib.util.find_spec("tts.sambert") is None:
        rows.append(
            {
                "name": "sambert",
                "ready": False,
                "where": sambert_dir,
                "detail": "tts.sambert is not part of this checkout",
            }
        )
    else:
        status = getattr(importlib.import_module("tts.sambert"), "backend_status", None)
        if status is not None:
            rows.append({"name": "sambert", **status(config)})
        else:
            ready = bool(sambert_dir) and Path(sambert_dir).expanduser().is_dir()
            rows.append(
                {
                    "name": "sambert",
                    "ready": ready,
                    "where": sambert_dir,
                    "detail": "model directory found"
                    if ready
                    else "set tts.sambert.model_dir to a ModelScope Sambert-HifiGan directory",
                }
            )
    return rows
