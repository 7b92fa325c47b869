"""Native SAM-BERT + HiFi-GAN synthesizer for ModelScope Sambert-HifiGan voices.

Nothing heavy is imported here; torch loads when a synthesizer is built.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tingshuo.tts.config import TTSConfig
    from tingshuo.tts.sambert.synthesizer import SambertSynthesizer

__all__ = ["build", "backend_status"]


def build(tc: TTSConfig) -> SambertSynthesizer:
    """The ``sambert`` synthesizer from ``tc.sambert`` (model_dir, voice, threads).

    Raises ModelNotFoundError when the directory or a file is missing, ModelDirError /
    CheckpointMismatchError when its contents are inconsistent.
    """
    # Idle OpenMP workers must sleep, not spin: on a shared 2-core machine spinning workers
    # made SAM-BERT's many small ops ~4x slower (benchmarks/results/sambert.md). Only
    # effective when torch has not been imported yet; engine entry points may set it too.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from tingshuo.tts.sambert.model_dir import ModelDir
    from tingshuo.tts.sambert.synthesizer import SambertSynthesizer

    sc = tc.sambert
    return SambertSynthesizer(
        ModelDir.open(sc.model_dir, trust_pickle=sc.trust_pickle),
        voice=sc.voice,
        threads=sc.threads,
        emotion_mode=sc.emotion_mode,
        max_segment_chars=tc.max_segment_chars,
    )


def backend_status(tc: TTSConfig) -> dict[str, Any]:
    """``ready``/``where``/``detail`` for ``tingshuo models`` (reads voices.json only)."""
    from tingshuo.core.errors import ModelNotFoundError
    from tingshuo.tts.sambert.model_dir import ModelDir, ModelDirError

    spec = tc.sambert.model_dir
    try:
        md = ModelDir.open(spec)
    except (ModelNotFoundError, ModelDirError) as exc:
        return {"ready": False, "where": spec, "detail": str(exc)}
    return {"ready": True, "where": str(md.root), "detail": "voices: " + ", ".join(md.voices)}
