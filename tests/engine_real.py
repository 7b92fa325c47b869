"""Helpers for tests on the real default models (Whisper + Kokoro): loading, CER, clips."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import jiwer
import numpy as np
import pytest

from engine.config import EngineConfig
from engine.services import Services

_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def load_real_services(config: EngineConfig) -> Services:
    """Whisper + Kokoro from their factories, or a visible skip saying what is missing."""
    try:
        from asr.factory import build_recognizer
    except ImportError as exc:
        pytest.skip(f"asr.factory is not in this checkout yet ({exc}); needs the recognizer issue")
    from asr.base import ModelNotFoundError
    from tts.factory import build_synthesizer

    try:
        recognizer = build_recognizer(config)
        synthesizer = build_synthesizer(config)
    except ModelNotFoundError as exc:
        pytest.skip(f"model missing: {exc}")
    return Services.load(config, recognizer=recognizer, synthesizer=synthesizer)


def normalize(text: str) -> str:
    """NFKC, Traditional→Simplified (OpenCC t2s), punctuation and spaces removed."""
    import opencc

    text = unicodedata.normalize("NFKC", text)
    text = opencc.OpenCC("t2s").convert(text)
    return _PUNCT.sub("", text).lower()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate after :func:`normalize` of both sides."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return jiwer.cer(ref, hyp or "∅")


def references(asr_dev: Path) -> dict[str, str]:
    """file name → human transcript of ../shared/eval/asr-dev."""
    with open(asr_dev / "transcripts.tsv", encoding="utf-8") as fh:
        return {row["file"]: row["transcript"] for row in csv.DictReader(fh, delimiter="\t")}


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness of a signal in dBFS."""
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples))) + 1e-12))
