"""``tingshuo train bridge`` end to end on a small made-up shared dir (features pre-cached)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.checkpoint import load_checkpoint
from tingshuo.dialog.prosody import PROSODY_DIM
from tingshuo.dialog.speech_emotion import SpeechFeatures
from tingshuo.engine.cli import cli
from tingshuo.joint_training.speech_corpora import CorpusFeatures, cache_path, save_features

CASIA6 = ("angry", "fear", "happy", "neutral", "sad", "surprise")
SMP = ("neutral", "angry", "happy", "sad", "fear", "surprise")
WORDS = {
    "neutral": "请问明天",
    "angry": "气死我了",
    "happy": "太开心了",
    "sad": "好难过啊",
    "fear": "好害怕啊",
    "surprise": "竟然是真的",
}


def _speech(
    corpus: str, speakers: list[str], emotions: tuple[str, ...], seed: int
) -> CorpusFeatures:
    rng = np.random.default_rng(seed)
    directions = np.random.default_rng(99).normal(0, 1, (len(EMOTIONS), 1024 + PROSODY_DIM))
    rows = [(s, e) for s in speakers for e in emotions for _ in range(8)]
    x = np.stack(
        [
            directions[[em.value for em in EMOTIONS].index(e)]
            + rng.normal(0, 1.0, 1024 + PROSODY_DIM)
            + 5.0 * speakers.index(s)
            for s, e in rows
        ]
    )
    return CorpusFeatures(
        encoder=x[:, :1024].astype(np.float32),
        prosody=x[:, 1024:].astype(np.float32),
        speaker=np.array([s for s, _ in rows]),
        emotion=np.array([e for _, e in rows]),
        corpus=np.array([corpus] * len(rows)),
        clip=np.array([f"{i}.wav" for i in range(len(rows))]),
        transcript=np.array(["我马上拿来。"] * len(rows)),
    )


@pytest.fixture
def shared_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    shared, cache = tmp_path / "shared", tmp_path / "cache"
    smp = shared / "eval" / "emotion-text" / "smp2020-ewect"
    smp.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("usual_train", 40), ("virus_train", 20), ("usual_dev", 10)):
        lines = ["label\ttext_a"]
        for i in range(n):
            for k, e in enumerate(SMP):
                lines.append(f"{k}\t{WORDS[e]}{rng.integers(1000)}号{i}")
        (smp / f"{name}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    save_features(cache_path(cache, "casia-2spk"), _speech("casia-2spk", ["f1", "m1"], CASIA6, 1))
    emodb = ("angry", "happy", "neutral", "sad", "fear", "hate")
    save_features(cache_path(cache, "emodb"), _speech("emodb", ["e1", "e2", "e3"], emodb, 2))
    monkeypatch.setenv("TINGSHUO_SHARED_DIR", str(shared))
    monkeypatch.setenv("TINGSHUO_CACHE_DIR", str(cache))
    return shared, cache


def test_help_lists_the_command() -> None:
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0 and "bridge" in result.output


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    bad.write_text("epochz = 3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["train", "bridge", "--config", str(bad)])
    assert result.exit_code == 2 and "epochz" in result.output


def test_trains_a_loadable_checkpoint_from_cached_features(
    tmp_path: Path, shared_and_cache: tuple[Path, Path]
) -> None:
    config = tmp_path / "tiny.toml"
    config.write_text(
        'c_grid = ["0.001", "0.01"]\ntext_cped = false\ntext_use = false\n', encoding="utf-8"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        cli, ["train", "bridge", "--config", str(config), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["casia_loso_macro_f1"] > 0.5  # separable made-up features
    for name in (
        "speech.npz",
        "bridge.json",
        "metrics.json",
        "README.md",
        "config.json",
        "curves_c_sweep.png",
        "confusion_speech_casia_loso.png",
        "confusion_cross_corpus.png",
        "reliability_speech.png",
        "text_emotion.npz",
        "text_vocab.npz",
        "text_emotion.json",
    ):
        assert (out / name).is_file(), name
    assert "research" in (out / "README.md").read_text(encoding="utf-8")
    ckpt = load_checkpoint(out)
    assert 0.3 <= ckpt.min_confidence <= 0.9
    feats = SpeechFeatures(np.zeros(23), np.zeros(1024))
    lp, head = ckpt.speech.log_probs(feats, ckpt.speech.new_profile())
    assert head == "encoder+prosody" and np.isclose(np.exp(lp).sum(), 1.0)
    with np.load(out / "speech.npz", allow_pickle=False) as z:  # plain arrays, no pickle
        assert z["full_coef"].shape[1] == 1024 + 23
