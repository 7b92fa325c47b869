"""The Whisper judge for round-trip intelligibility (shared by benchmarks/tts.py).

Prefers the project's recognizer (``asr.factory.build_recognizer(config.asr, cache_root(config), "whisper")``);
until that backend is present in the checkout it drives faster-whisper directly on the
model directory the recognizer assembles (``<cache>/models/whisper-base``) with the same
settings (recipes/offline-models.md): int8, beam 5, temperature 0, no timestamps, no
conditioning on previous text, language zh. CER is computed with jiwer on text
normalised the same way for reference and hypothesis: NFKC, Traditional→Simplified
(OpenCC t2s), numbers spelled out with tts.textnorm, punctuation and whitespace removed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

from tingshuo.core.audio import Audio
from tingshuo.engine.config import EngineConfig, cache_root

ASR_RATE = 16000


def normalize_for_cer(text: str) -> str:
    """The eval normalisation (asr.textproc) with numbers spelled out by tts.textnorm first,
    so "6.6" and "六点六" compare equal."""
    from tingshuo.asr.textproc import normalize_for_cer as eval_normalize
    from tingshuo.asr.textproc import to_simplified
    from tingshuo.tts.textnorm import normalize

    return eval_normalize(normalize(to_simplified(unicodedata.normalize("NFKC", text))))


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate after :func:`normalize_for_cer` (jiwer)."""
    from tingshuo.asr.textproc import utterance_cer

    return utterance_cer(reference, hypothesis, normalize_for_cer)


def corpus_cer(pairs: list[tuple[str, str]]) -> float:
    """Total edits / total reference characters over (reference, hypothesis) pairs."""
    import jiwer

    refs = [normalize_for_cer(r) for r, _ in pairs]
    hyps = [normalize_for_cer(h) or " " for _, h in pairs]
    return float(jiwer.cer(refs, hyps))


def build_judge(config: EngineConfig, path: str = "auto") -> tuple[Callable[[Audio], str], str]:
    """A function audio → transcript, and a description of which path it uses.

    ``path``: ``asr`` (the project's recognizer), ``direct`` (faster-whisper with the same
    settings), or ``auto`` (asr when importable).
    """
    if path in ("asr", "auto"):
        from tingshuo.asr.factory import build_recognizer

        recognizer = build_recognizer(config.asr, cache_root(config), "whisper")
        return (lambda audio: recognizer.transcribe(audio.resample(ASR_RATE)).text), (
            "asr.factory.build_recognizer(config.asr, cache_root(config), 'whisper')"
        )
    model_dir = Path(config.asr.whisper.model_dir or cache_root(config) / "models" / "whisper-base")
    if not (model_dir / "model.bin").is_file():
        raise RuntimeError(
            f"no Whisper recognizer: asr.factory is not in this checkout and {model_dir} has no "
            "model.bin (merge the asr branch, or assemble the model with `tingshuo models`)"
        )
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)

    def judge(audio: Audio) -> str:
        segments, _ = model.transcribe(
            audio.resample(ASR_RATE).samples,
            language="zh",
            beam_size=5,
            temperature=0,
            without_timestamps=True,
            condition_on_previous_text=False,
        )
        return re.sub(r"\s+", "", "".join(s.text for s in segments))

    return judge, f"faster-whisper 1.2.1 on {model_dir} (int8, beam 5, temperature 0)"
