"""Utterance-level pooling of a recognizer's encoder states (the bridge's speech input).

Whisper's encoder turns every 30 s window into 1500 frames of 20 ms. The frames that hold
the utterance are the first ``ceil(duration / 20 ms)``; of those, frames whose energy is
within ``VOICED_RANGE_DB`` of the loudest are kept (leading/trailing silence and pauses
dropped), and their mean and standard deviation form the pooled vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16000  # Hz
ENCODER_FRAME_S = 0.02  # s, one Whisper encoder frame
FRAME_SAMPLES = int(SAMPLE_RATE * ENCODER_FRAME_S)  # 320
VOICED_RANGE_DB = 35.0  # frames quieter than the loudest by more than this are dropped
MIN_VOICED_FRAMES = 3


@dataclass(frozen=True)
class EncoderStates:
    """Mean and std of the encoder frames of one utterance (one encoder pass)."""

    pooled: np.ndarray = field(repr=False)  # (2 * dim,) float32: mean, then std
    frames: int  # frames pooled
    model: str = "whisper-base"


def voiced_frames(samples: np.ndarray, n_frames: int) -> np.ndarray:
    """Boolean mask of the ``n_frames`` 20 ms frames of ``samples`` that carry the voice."""
    pad = np.zeros(n_frames * FRAME_SAMPLES, dtype=np.float64)
    take = min(len(samples), len(pad))
    pad[:take] = samples[:take]
    energy = 10.0 * np.log10(np.mean(pad.reshape(n_frames, FRAME_SAMPLES) ** 2, axis=1) + 1e-10)
    return energy > max(float(energy.max()) - VOICED_RANGE_DB, -60.0)


def pool_encoder_states(
    windows: list[np.ndarray],
    samples: np.ndarray | None,
    n_samples: int,
    model: str = "whisper-base",
) -> EncoderStates | None:
    """Pool the encoder output of consecutive 30 s windows over an utterance of ``n_samples``.

    ``windows`` are ``(frames, dim)`` arrays (batch axis removed). With ``samples`` the
    silent frames are dropped; without, all frames of the utterance are pooled.
    """
    if not windows or n_samples <= 0:
        return None
    total = math.ceil(n_samples / FRAME_SAMPLES)
    parts, left = [], total
    for w in windows:
        take = min(left, len(w))
        parts.append(np.asarray(w[:take], dtype=np.float32))
        left -= take
        if left <= 0:
            break
    frames = np.concatenate(parts)
    if samples is not None and len(frames):
        mask = voiced_frames(samples, len(frames))
        if mask.sum() >= MIN_VOICED_FRAMES:
            frames = frames[mask]
    pooled = np.concatenate([frames.mean(0), frames.std(0)]).astype(np.float32)
    return EncoderStates(pooled, len(frames), model)
