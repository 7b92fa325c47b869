"""Build the configured recognizer; report which backends are ready (``tingshuo models``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from asr.base import ModelNotFoundError, Recognizer
from engine.config import EngineConfig, cache_root

log = logging.getLogger(__name__)

BACKENDS = ("whisper", "paraformer")


class UnknownBackendError(ValueError):
    """A recognizer backend name that does not exist."""


def whisper_model_dir(config: EngineConfig) -> Path:
    """Where the Whisper model lives: ``asr.whisper.model_dir`` or ``<cache>/models/whisper-base``."""
    configured = config.asr.whisper.model_dir
    return (
        Path(configured).expanduser()
        if configured
        else cache_root(config) / "models" / "whisper-base"
    )


def _user_supplied(config: EngineConfig, model_dir: Path) -> bool:
    """A configured CTranslate2 model dir that was not assembled by us (no marker file)."""
    from asr.whisper_assets import MARKER

    return (
        bool(config.asr.whisper.model_dir)
        and (model_dir / "model.bin").is_file()
        and not (model_dir / MARKER).exists()
    )


def punctuator(config: EngineConfig) -> Callable[[str], str] | None:
    """ct-punc as a text→text function when ``asr.paraformer.punc_model`` is configured."""
    if not config.asr.paraformer.punc_model:
        return None
    from asr.funasr_models import load_punctuator

    return load_punctuator(config.asr.paraformer)


def build_recognizer(config: EngineConfig, backend: str | None = None) -> Recognizer:
    """Load the recognizer named by ``backend`` (default ``config.asr.backend``).

    Raises :class:`UnknownBackendError` for a bad name and :class:`ModelNotFoundError`
    (naming the missing file and how to get it) when weights are absent.
    """
    name = (backend or config.asr.backend).lower()
    if name == "whisper":
        from asr.whisper_assets import ensure_whisper_model
        from asr.whisper_backend import WhisperRecognizer

        model_dir = whisper_model_dir(config)
        if not _user_supplied(config, model_dir):
            ensure_whisper_model(model_dir)
        return WhisperRecognizer(model_dir, config.asr, punctuate=punctuator(config))
    if name == "paraformer":
        from asr.paraformer_backend import ParaformerRecognizer

        return ParaformerRecognizer(config.asr)
    raise UnknownBackendError(f"unknown ASR backend {name!r}; choose one of {', '.join(BACKENDS)}")


def backend_status(config: EngineConfig) -> list[dict]:
    """One row per backend: ``name``, ``ready``, ``where`` (weights), ``detail``. Loads nothing."""
    rows = [_whisper_status(config)]
    try:
        from asr.funasr_models import paraformer_status

        rows.append(paraformer_status(config.asr.paraformer))
    except ImportError as exc:  # the funasr extra is not installed
        rows.append(
            {
                "name": "paraformer",
                "ready": False,
                "where": "",
                "detail": f"FunASR not installed ({exc.name}): pip install 'tingshuo[funasr]'",
            }
        )
    return rows


def _whisper_status(config: EngineConfig) -> dict:
    from asr.whisper_assets import find_sources, is_assembled

    model_dir = whisper_model_dir(config)
    row = {"name": "whisper", "ready": False, "where": str(model_dir), "detail": ""}
    if _user_supplied(config, model_dir) or is_assembled(model_dir):
        row.update(
            ready=True,
            detail="Whisper base (CTranslate2 int8), checksum verified"
            if is_assembled(model_dir)
            else "user-supplied CTranslate2 model",
        )
        return row
    try:
        src = find_sources()
    except ModelNotFoundError as exc:
        row["detail"] = str(exc)
        return row
    row.update(
        ready=True,
        detail=f"not assembled yet; will join parts from {src.side_dir.parent.parent} on first use",
    )
    return row
