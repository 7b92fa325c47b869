"""Helpers for tests on the real default models (Whisper + Kokoro): loading, CER, clips."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tingshuo.asr.textproc import normalize_for_cer, utterance_cer
from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.engine.services import Services


def load_real_services(config: EngineConfig) -> Services:
    """Whisper + Kokoro from their factories, or a visible skip saying what is missing."""
    from tingshuo.asr.factory import build_recognizer
    from tingshuo.core.errors import ModelNotFoundError
    from tingshuo.tts.factory import build_synthesizer

    try:
        recognizer = build_recognizer(config.asr, cache_root(config))
        synthesizer = build_synthesizer(config.tts, cache_root(config))
    except ModelNotFoundError as exc:
        pytest.skip(f"model missing: {exc}")
    return Services.load(config, recognizer=recognizer, synthesizer=synthesizer)


def normalize(text: str) -> str:
    """The eval normalisation (NFKC, t2s, no punctuation or spaces), Latin letters lower-cased."""
    return normalize_for_cer(text).lower()


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate after :func:`normalize` of both sides."""
    return utterance_cer(reference, hypothesis, normalize)


def references(asr_dev: Path) -> dict[str, str]:
    """file name → human transcript of ../shared/eval/asr-dev."""
    with open(asr_dev / "transcripts.tsv", encoding="utf-8") as fh:
        return {row["file"]: row["transcript"] for row in csv.DictReader(fh, delimiter="\t")}


def rms_dbfs(samples: np.ndarray) -> float:
    """Loudness of a signal in dBFS."""
    return float(20 * np.log10(np.sqrt(np.mean(np.square(samples))) + 1e-12))
