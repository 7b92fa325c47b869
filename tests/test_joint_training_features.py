"""Feature cache: computed once from real text and audio, then read back identically."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.joint_training.features import cached_features, concat
from tingshuo.joint_training.manifest import ManifestRecord


@pytest.mark.slow
def test_cache_round_trip_with_real_audio(tmp_path: Path, asr_dev: Path) -> None:
    records = [
        ManifestRecord(
            "a",
            str(asr_dev / "wav" / "firered2s_hello_zh.wav"),
            "你好世界",
            Emotion.NEUTRAL,
            "s",
            "train",
        ),
        ManifestRecord("b", None, "气死我了", Emotion.ANGRY, "s", "valid"),
    ]
    first = cached_features(records, 256, tmp_path, workers=1, progress=False)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    assert first.has_audio.tolist() == [True, False]
    assert first.labels.tolist() == [0, 2]
    assert np.isnan(first.prosody[1]).all() and np.isfinite(first.prosody[0]).all()
    again = cached_features(records, 256, tmp_path, workers=1, progress=False)
    np.testing.assert_array_equal(first.embed, again.embed)
    assert [g.tolist() for g in first.ngrams] == [g.tolist() for g in again.ngrams]
    both = concat([first, again.subset(np.array([False, True]))])
    assert both.ids == ["a", "b", "b"] and both.splits.tolist() == ["train", "valid", "valid"]
    changed = [records[0], ManifestRecord("b", None, "谢谢", Emotion.HAPPY, "s", "valid")]
    cached_features(changed, 256, tmp_path, workers=1, progress=False)
    assert len(list(tmp_path.glob("*.npz"))) == 2  # new content, new key
