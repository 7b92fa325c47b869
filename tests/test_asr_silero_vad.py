"""Silero VAD (faster-whisper's ONNX file) as a streaming model, on real speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tingshuo.asr import silero_vad
from tingshuo.asr.silero_vad import WINDOW, SileroVad, speech_probabilities, speech_seconds
from tingshuo.core.audio import read_audio


def _speech(asr_dev: Path) -> np.ndarray:
    samples = read_audio(asr_dev / "wav" / "funasr_asr_example_zh.wav", 16000).samples
    return samples[: len(samples) // WINDOW * WINDOW]


def test_chunking_does_not_change_probabilities(asr_dev: Path, monkeypatch) -> None:
    speech = _speech(asr_dev)
    whole = speech_probabilities(speech)
    vad = SileroVad()
    chunked = np.concatenate(
        [vad.probabilities(speech[i : i + 7 * WINDOW]) for i in range(0, len(speech), 7 * WINDOW)]
    )
    np.testing.assert_allclose(chunked, whole, atol=1e-6)
    monkeypatch.setattr(silero_vad, "MAX_BATCH", 5)  # long-file batching keeps the state too
    np.testing.assert_allclose(speech_probabilities(speech), whole, atol=1e-6)


def test_matches_faster_whispers_own_whole_file_model(asr_dev: Path) -> None:
    from faster_whisper.vad import get_vad_model

    speech = _speech(asr_dev)
    theirs = np.asarray(get_vad_model()(speech)).reshape(-1)
    np.testing.assert_allclose(speech_probabilities(speech), theirs, atol=1e-5)


def test_speech_scores_high_and_noise_low(asr_dev: Path) -> None:
    speech = _speech(asr_dev)
    assert speech_seconds(speech) > 0.6 * (len(speech) / 16000 - 1.0)  # ~1 s lead-in
    noise = np.random.default_rng(0).normal(0, 0.1, 4 * 16000).astype(np.float32)
    assert speech_seconds(noise) == 0.0
    assert speech_seconds(np.zeros(16000, np.float32)) == 0.0
