"""Per-speaker normalisation of the bridge's speech features.

Emotion shows as a change against a speaker's habitual voice, so every speech feature
is z-scored against statistics of the same speaker. Training uses all clips of each
training speaker. At run time the statistics come from the speaker's earlier turns,
shrunk toward the corpus statistics (the average speaker) while few turns are known:
with ``n`` turns of mean ``m_s`` and variance ``v_s`` and a prior of weight ``k``,
``mean = (n·m_s + k·m_c)/(n+k)`` and ``var = (n·v_s + k·v_c)/(n+k)``.
"""

from __future__ import annotations

import numpy as np

DEFAULT_PRIOR_WEIGHT = 4.0  # turns: the corpus statistics count as this many turns
MIN_STD = 1e-4


def speaker_zscore(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """Z-score each row of ``x`` against all rows of the same speaker (training)."""
    out = np.empty_like(x, dtype=np.float64)
    for s in np.unique(speakers):
        m = speakers == s
        mu = x[m].mean(0)
        sd = np.maximum(x[m].std(0), MIN_STD)
        out[m] = (x[m] - mu) / sd
    return out


class SpeakerBaseline:
    """Running mean/variance of one speaker's raw feature vectors (Welford), with a prior."""

    def __init__(
        self,
        prior_mean: np.ndarray,
        prior_var: np.ndarray,
        prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    ) -> None:
        self.prior_mean = np.asarray(prior_mean, dtype=np.float64)
        self.prior_var = np.asarray(prior_var, dtype=np.float64)
        self.prior_weight = float(prior_weight)
        self.n = 0
        self._mean = np.zeros_like(self.prior_mean)
        self._m2 = np.zeros_like(self.prior_mean)

    def add(self, x: np.ndarray) -> None:
        """Add one utterance's raw features."""
        x = np.asarray(x, dtype=np.float64)
        self.n += 1
        delta = x - self._mean
        self._mean += delta / self.n
        self._m2 += delta * (x - self._mean)

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) blended from this speaker's turns and the prior."""
        n, k = float(self.n), self.prior_weight
        var_s = self._m2 / n if self.n else np.zeros_like(self._m2)
        mean = (n * self._mean + k * self.prior_mean) / (n + k)
        var = (n * var_s + k * self.prior_var) / (n + k)
        return mean, np.sqrt(np.maximum(var, MIN_STD**2))

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """Z-score ``x`` against the current statistics (``x`` itself is not added)."""
        mean, std = self.stats()
        return (np.asarray(x, dtype=np.float64) - mean) / std
