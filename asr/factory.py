"""Build the configured recognizer; report which backends are ready (``tingshuo models``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from tingshuo.asr.base import Recognizer
from tingshuo.asr.config import ASRConfig
from tingshuo.core.errors import ModelNotFoundError

log = logging.getLogger(__name__)

BACKENDS = ("whisper", "paraformer")


class UnknownBackendError(ValueError):
    """A recognizer backend name that does not exist."""


def whisper_model_dir(asr: ASRConfig, cache_dir: Path) -> Path:
    """Where the Whisper model lives: ``asr.whisper.model_dir`` or ``<cache_dir>/models/whisper-base``."""
    configured = asr.whisper.model_dir
    return Path(configured).expanduser() if configured else cache_dir / "models" / "whisper-base"


def _user_supplied(asr: ASRConfig, model_dir: Path) -> bool:
    """A configured CTranslate2 model dir that was not assembled by us (no marker file)."""
    from tingshuo.asr.whisper_assets import MARKER

    return (
        bool(asr.whisper.model_dir)
        and (model_dir / "model.bin").is_file()
        and not (model_dir / MARKER).exists()
    )


def punctuator(asr: ASRConfig) -> Callable[[str], str] | None:
    """ct-punc as a text→text function when ``asr.paraformer.punc_model`` is configured."""
    if not asr.paraformer.punc_model:
        return None
    from tingshuo.asr.funasr_models import load_punctuator

    return load_punctuator(asr.paraformer)


def build_recognizer(asr: ASRConfig, cache_dir: Path, backend: str | None = None) -> Recognizer:
    """Load the recognizer named by ``backend`` (default ``asr.backend``); assembled weights
    live under ``cache_dir``.

    Raises :class:`UnknownBackendError` for a bad name and :class:`ModelNotFoundError`
    (naming the missing file and how to get it) when weights are absent.
    """
    name = (backend or asr.backend).lower()
    if name == "whisper":
        from tingshuo.asr.whisper_assets import ensure_whisper_model
        from tingshuo.asr.whisper_backend import WhisperRecognizer

        model_dir = whisper_model_dir(asr, cache_dir)
        if not _user_supplied(asr, model_dir):
            ensure_whisper_model(model_dir)
        return WhisperRecognizer(model_dir, asr, punctuate=punctuator(asr))
    if name == "paraformer":
        from tingshuo.asr.paraformer_backend import ParaformerRecognizer

        return ParaformerRecognizer(asr)
    raise UnknownBackendError(f"unknown ASR backend {name!r}; choose one of {', '.join(BACKENDS)}")


def backend_status(asr: ASRConfig, cache_dir: Path) -> list[dict]:
    """One row per backend: ``name``, ``ready``, ``where`` (weights), ``detail``. Loads nothing."""
    rows = [_whisper_status(asr, cache_dir)]
    try:
        from tingshuo.asr.funasr_models import paraformer_status

        rows.append(paraformer_status(asr.paraformer))
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


def _whisper_status(asr: ASRConfig, cache_dir: Path) -> dict:
    from tingshuo.asr.whisper_assets import find_sources, is_assembled

    model_dir = whisper_model_dir(asr, cache_dir)
    row = {"name": "whisper", "ready": False, "where": str(model_dir), "detail": ""}
    if _user_supplied(asr, model_dir) or is_assembled(model_dir):
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
