"""Prosodic features on real speech: finite, sensible, and a clear error for silence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.audio import Audio, read_audio
from tingshuo.dialog.prosody import (
    FEATURE_NAMES,
    PROSODY_DIM,
    AudioTooShortError,
    prosodic_features,
)


def test_real_clip(asr_dev: Path) -> None:
    audio = read_audio(asr_dev / "wav" / "firered_aishell1_BAC009S0764W0121.wav")
    v = prosodic_features(audio, "甚至出现交易几乎停滞的情况")
    assert v.shape == (PROSODY_DIM,) and np.isfinite(v).all()
    f = dict(zip(FEATURE_NAMES, v.tolist(), strict=True))
    assert 3.5 < f["duration_s"] < 5.0
    assert 0.3 < f["voiced_fraction"] < 0.95
    assert 2.0 < f["text_rate_chars_per_s"] < 8.0  # 13 characters in about 4 s of speech
    assert f["f0_p95_st"] > f["f0_p05_st"]


def test_pitch_shift_moves_f0_features(asr_dev: Path) -> None:
    audio = read_audio(asr_dev / "wav" / "funasr_asr_example_zh.wav", 16000)
    faster = Audio(audio.samples, int(audio.sample_rate * 1.26))  # played faster: +4 st, shorter
    a = dict(zip(FEATURE_NAMES, prosodic_features(audio).tolist(), strict=True))
    b = dict(zip(FEATURE_NAMES, prosodic_features(faster).tolist(), strict=True))
    assert 3.0 < b["f0_p50_st"] - a["f0_p50_st"] < 5.0
    assert b["duration_s"] < a["duration_s"]


def test_silence_and_short_audio_are_errors() -> None:
    with pytest.raises(AudioTooShortError):
        prosodic_features(Audio(np.zeros(16000, np.float32), 16000))
    with pytest.raises(AudioTooShortError):
        prosodic_features(Audio(np.ones(800, np.float32) * 0.1, 16000))
