"""Resolving FunASR model dirs offline; missing models are clear errors; ct-punc on a tiny dir."""

from __future__ import annotations

import time
from pathlib import Path

import funasr_tiny
import pytest

from tingshuo.asr.config import ParaformerConfig
from tingshuo.asr.funasr_models import (
    ALIASES,
    check_model_dir,
    clean_text,
    load_punctuator,
    paraformer_status,
    resolve_model_dir,
)
from tingshuo.core.errors import ModelNotFoundError

pytest.importorskip("funasr", reason="FunASR extra not installed")


@pytest.fixture(autouse=True)
def empty_modelscope_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point ModelScope at an empty cache so lookups are local and deterministic."""
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))


@pytest.fixture(scope="module")
def punc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return funasr_tiny.build_ct_punc(tmp_path_factory.mktemp("punc") / "ct-punc")


def test_unconfigured_model_says_which_key() -> None:
    with pytest.raises(ModelNotFoundError, match=r"asr\.paraformer\.vad_model"):
        resolve_model_dir("", "vad_model")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "nope"), "model")


def test_dir_without_weights_is_refused(tmp_path: Path, punc_dir: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text((punc_dir / "config.yaml").read_text())
    with pytest.raises(ModelNotFoundError, match=r"no model\.pt.*random-weight"):
        resolve_model_dir(str(broken), "punc_model")
    (broken / "model.pt").write_bytes(b"")
    (broken / "config.yaml").unlink()
    with pytest.raises(ModelNotFoundError, match=r"no config\.yaml"):
        check_model_dir(broken)


def test_uncached_hub_alias_fails_fast_with_instructions() -> None:
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model_dir("paraformer-zh", "model")
    assert time.monotonic() - start < 15  # no hub retries
    message = str(info.value)
    assert ALIASES["paraformer-zh"] in message and "modelscope download" in message


def test_resolves_existing_dir(punc_dir: Path) -> None:
    assert resolve_model_dir(str(punc_dir), "punc_model") == punc_dir


def test_punctuator_runs_ct_punc(punc_dir: Path) -> None:
    punctuate = load_punctuator(ParaformerConfig(punc_model=str(punc_dir)))
    text = "欢迎大家来体验达摩院推出的语音识别模型"
    out = punctuate(text)
    # random weights: marks are arbitrary, but the characters must all survive in order
    assert "".join(c for c in out if c not in "，。？、") == text
    assert out[-1] in "，。？、" or out == text
    assert punctuate("") == ""


def test_clean_text() -> None:
    assert clean_text("欢 迎 大 家 <unk> hello world") == "欢迎大家 hello world"


def test_status_rows(tmp_path: Path, punc_dir: Path) -> None:
    row = paraformer_status(ParaformerConfig())
    assert row["name"] == "paraformer" and row["ready"] is False
    assert "asr.paraformer.model" in row["detail"]
    row = paraformer_status(ParaformerConfig(model=str(tmp_path / "x"), punc_model=str(punc_dir)))
    assert row["ready"] is False and "does not exist" in row["detail"]
    assert str(punc_dir) in row["where"]
