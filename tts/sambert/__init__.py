"""Native SAM-BERT + HiFi-GAN synthesizer for ModelScope Sambert-HifiGan voices.

Nothing heavy is imported here; torch loads when a synthesizer is built.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config import EngineConfig
    from tts.sambert.synthesizer import SambertSynthesizer

__all__ = ["build", "build_synthesizer", "backend_status"]


def build(config: EngineConfig) -> SambertSynthesizer:
    """The ``sambert`` synthesizer from ``config.tts.sambert`` (model_dir, voice, threads).

    Raises ModelNotFoundError when the directory or a file is missing, ModelDirError /
    CheckpointMismatchError when its contents are inconsistent.
    """
    # Idle OpenMP workers must sleep, not spin: on a shared 2-core machine spinning workers
    # made SAM-BERT's many small ops ~4x slower (benchmarks/results/sambert.md). Only
    # effective when torch has not been imported yet; engine entry points may set it too.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from tts.sambert.model_dir import ModelDir
    from tts.sambert.synthesizer import SambertSynthesizer

    sc = config.tts.sambert
    return SambertSynthesizer(
        ModelDir.open(sc.model_dir, trust_pickle=sc.trust_pickle),
        voice=sc.voice,
        threads=sc.threads,
        emotion_mode=sc.emotion_mode,
        max_segment_chars=config.tts.max_segment_chars,
    )


build_synthesizer = build  # the name tts.factory looks for


def backend_status(config: EngineConfig) -> dict[str, Any]:
    """``ready``/``where``/``detail`` for ``tingshuo models`` (reads voices.json only)."""
    from asr.base import ModelNotFoundError
    from tts.sambert.model_dir import ModelDir, ModelDirError

    spec = config.tts.sambert.model_dir
    try:
        md = ModelDir.open(spec)
    except (ModelNotFoundError, ModelDirError) as exc:
        return {"ready": False, "where": spec, "detail": str(exc)}
    return {"ready": True, "where": str(md.root), "detail": "voices: " + ", ".join(md.voices)}
