"""CPED → canonical emotions: the mapping covers every CPED label, drops only the 'other' ones."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tingshuo.core.emotions import EMOTIONS, Emotion
from tingshuo.joint_training.cped import CPED_DROPPED, CPED_TO_CANONICAL, cped_dir, read_cped
from tingshuo.joint_training.manifest import ManifestError


def test_mapping_reaches_all_seven_emotions() -> None:
    assert set(CPED_TO_CANONICAL.values()) == set(EMOTIONS)
    assert not set(CPED_TO_CANONICAL) & set(CPED_DROPPED)


def test_real_cped_valid_split(shared: Path) -> None:
    records, dropped = read_cped(cped_dir(shared) / "valid_split.csv", "train", dev_series=("45",))
    assert set(dropped) <= {*CPED_DROPPED, "<empty text>"}
    assert dropped["negative-other"] == 1702 and dropped["positive-other"] == 792
    assert len(records) + sum(dropped.values()) == 11137
    splits = Counter(r.split for r in records)
    assert set(splits) == {"train", "valid"}
    labels = Counter(r.emotion for r in records)
    assert labels[Emotion.NEUTRAL] > labels[Emotion.HATE] > 0
    assert all(r.audio is None and r.text for r in records)
    assert len({r.id for r in records}) == len(records)


def test_not_a_cped_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="not a CPED CSV"):
        read_cped(bad, "train")
    with pytest.raises(ManifestError, match="not found"):
        read_cped(tmp_path / "missing.csv", "train")
