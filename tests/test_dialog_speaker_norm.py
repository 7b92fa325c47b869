"""Per-speaker normalisation: training z-scores and the running session baseline."""

from __future__ import annotations

import numpy as np

from tingshuo.dialog.speaker_norm import SpeakerBaseline, speaker_zscore


def test_speaker_zscore_uses_each_speakers_own_statistics() -> None:
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(5, 2, (50, 3)), rng.normal(-3, 0.5, (50, 3))])
    spk = np.array(["a"] * 50 + ["b"] * 50)
    z = speaker_zscore(x, spk)
    for s in "ab":
        assert np.allclose(z[spk == s].mean(0), 0, atol=1e-9)
        assert np.allclose(z[spk == s].std(0), 1, atol=1e-9)


def test_baseline_starts_at_the_prior_and_moves_to_the_speaker() -> None:
    b = SpeakerBaseline(np.zeros(2), np.ones(2), prior_weight=4)
    assert np.allclose(b.normalise(np.array([1.0, 2.0])), [1.0, 2.0])  # no turns: the prior
    rng = np.random.default_rng(1)
    for v in rng.normal(10, 0.5, (200, 2)):
        b.add(v)
    mean, std = b.stats()
    assert b.n == 200
    assert np.allclose(mean, 10, atol=0.5)  # 200 turns outweigh a prior of 4
    assert abs(float(b.normalise(np.array([10.0, 10.0]))[0])) < 1.0


def test_normalise_does_not_count_the_utterance() -> None:
    b = SpeakerBaseline(np.zeros(1), np.ones(1))
    b.normalise(np.array([3.0]))
    assert b.n == 0
