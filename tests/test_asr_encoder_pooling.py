"""Pooling the recognizer's encoder frames over the voiced part of an utterance."""

from __future__ import annotations

import numpy as np

from tingshuo.asr.encoder_pooling import FRAME_SAMPLES, pool_encoder_states, voiced_frames


def test_pools_only_the_frames_that_hold_the_utterance() -> None:
    window = np.zeros((1500, 4), np.float32)
    window[:50] = 1.0  # 1 s of utterance, then padding frames the encoder also produced
    window[50:] = 100.0
    states = pool_encoder_states([window], None, 50 * FRAME_SAMPLES)
    assert states is not None and states.frames == 50
    assert np.allclose(states.pooled[:4], 1.0) and np.allclose(states.pooled[4:], 0.0)


def test_silent_frames_are_dropped() -> None:
    rng = np.random.default_rng(0)
    samples = np.concatenate(
        [rng.normal(0, 0.1, 30 * FRAME_SAMPLES), np.zeros(20 * FRAME_SAMPLES)]
    ).astype(np.float32)
    mask = voiced_frames(samples, 50)
    assert mask[:30].all() and not mask[30:].any()
    window = np.vstack([np.ones((30, 2)), np.full((1470, 2), 9.0)]).astype(np.float32)
    states = pool_encoder_states([window], samples, len(samples))
    assert states is not None and states.frames == 30
    assert np.allclose(states.pooled, [1, 1, 0, 0])


def test_long_audio_spans_windows_and_empty_input_is_none() -> None:
    a, b = np.zeros((1500, 2), np.float32), np.ones((1500, 2), np.float32)
    states = pool_encoder_states([a, b], None, 2000 * FRAME_SAMPLES)
    assert states is not None and states.frames == 2000
    assert np.isclose(states.pooled[0], 500 / 2000)
    assert pool_encoder_states([], None, 100) is None
