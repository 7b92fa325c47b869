"""The bridge's decisions on a small checkpoint built here: fusion, uncertainty, typed errors,
per-speaker baselines, and a save/load round trip without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.audio import Audio
from tingshuo.core.emotions import Emotion
from tingshuo.dialog import text_emotion as te
from tingshuo.dialog.bridge import (
    EmotionInputError,
    SilentAudioError,
    TooShortAudioError,
    TrainedBridge,
)
from tingshuo.dialog.checkpoint import (
    BridgeCheckpoint,
    CheckpointError,
    Fusion,
    load_checkpoint,
    save_checkpoint,
)
from tingshuo.dialog.speech_emotion import (
    PROSODY_USED,
    CorpusStats,
    LinearHead,
    SpeechEmotionModel,
    SpeechFeatures,
)

CLASSES = ("neutral", "happy", "angry", "sad", "fear", "surprise")
NP = len(PROSODY_USED)


@pytest.fixture(scope="module")
def text_model() -> te.TextEmotionModel:
    words = {
        "neutral": "请问一下",
        "happy": "太开心了",
        "angry": "气死我了",
        "sad": "好难过",
        "fear": "好害怕",
        "surprise": "竟然这样",
    }
    texts, labels = [], []
    for i in range(40):
        for e, w in words.items():
            texts.append(f"{w}{i}")
            labels.append(e)
    return te.train(texts, labels, holdout=60, log=lambda _: None)


def _tone_prosody() -> np.ndarray:
    from tingshuo.dialog.speech_emotion import speech_features

    return speech_features(_tone()).prosody


def _checkpoint(text_model: te.TextEmotionModel, min_conf: float = 0.3) -> BridgeCheckpoint:
    rng = np.random.default_rng(0)
    speech = SpeechEmotionModel(
        full=LinearHead(rng.normal(0, 0.1, (6, 1024 + NP)), np.zeros(6), CLASSES, 1.0),
        prosody_only=LinearHead(rng.normal(0, 0.3, (6, NP)), np.zeros(6), CLASSES, 1.0),
        prosody_prior=CorpusStats(_TONE_PROSODY, (0.2 * np.abs(_TONE_PROSODY) + 1.0) ** 2),
        encoder_prior=CorpusStats(np.zeros(1024), np.ones(1024)),
    )
    return BridgeCheckpoint(speech, text_model, Fusion(temperature=1.2), min_conf)


def _tone(seconds: float = 1.0, amp: float = 0.3) -> Audio:
    t = np.arange(int(16000 * seconds)) / 16000
    f0 = 180 + 40 * np.sin(2 * np.pi * 2 * t)
    return Audio((amp * np.sin(2 * np.pi * np.cumsum(f0) / 16000)).astype(np.float32), 16000)


_TONE_PROSODY = _tone_prosody()


def test_sources_and_distributions(text_model: te.TextEmotionModel) -> None:
    bridge = TrainedBridge(_checkpoint(text_model))
    for audio, text, source in (
        (None, "气死我了", "text"),
        (_tone(), None, "audio"),
        (_tone(), "气死我了", "fused"),
    ):
        est = bridge.estimate(audio, text)
        assert est.source == source
        assert np.isclose(sum(est.distribution.values()), 1.0)
        assert est.distribution[Emotion.HATE] >= 0.0
    assert bridge.estimate(None, "气死我了").top == Emotion.ANGRY
    with pytest.raises(EmotionInputError):
        bridge.estimate(None, "  ")


def test_below_threshold_is_neutral_and_uncertain(text_model: te.TextEmotionModel) -> None:
    audio = _tone()  # the small random speech head is far from sure
    sure = TrainedBridge(_checkpoint(text_model, 0.0)).estimate(audio, None)
    assert not sure.uncertain and sure.emotion == sure.top
    assert sure.confidence < 0.9
    unsure = TrainedBridge(_checkpoint(text_model, 0.9)).estimate(audio, None)
    assert unsure.uncertain and unsure.emotion == Emotion.NEUTRAL
    assert unsure.confidence == pytest.approx(unsure.distribution[Emotion.NEUTRAL])
    assert unsure.top == sure.top  # the distribution itself is unchanged


def test_typed_errors_for_silent_and_short_audio(text_model: te.TextEmotionModel) -> None:
    bridge = TrainedBridge(_checkpoint(text_model))
    with pytest.raises(SilentAudioError):
        bridge.estimate(Audio(np.zeros(16000, np.float32), 16000), None)
    with pytest.raises(TooShortAudioError):
        bridge.estimate(_tone(0.05), None)
    # with text the unusable audio is skipped, not an error
    assert bridge.estimate(Audio(np.zeros(16000, np.float32), 16000), "好害怕").source == "text"


def test_speaker_profile_learns_only_when_asked(text_model: te.TextEmotionModel) -> None:
    bridge = TrainedBridge(_checkpoint(text_model))
    profile = bridge.new_speaker()
    bridge.estimate(_tone(), None, speaker=profile)
    bridge.estimate(_tone(1.2), None, speaker=profile)
    assert profile.turns == 2
    feats = bridge.measure(_tone())
    bridge.estimate(None, None, features=feats, speaker=profile, learn=False)
    assert profile.turns == 2
    with_encoder = SpeechFeatures(feats.prosody, np.ones(1024))
    assert bridge.ckpt.speech.log_probs(with_encoder, profile)[1] == "encoder+prosody"
    assert bridge.ckpt.speech.log_probs(feats, profile)[1] == "prosody"


def test_round_trip_without_pickle(text_model: te.TextEmotionModel, tmp_path: Path) -> None:
    ckpt = _checkpoint(text_model, 0.45)
    save_checkpoint(tmp_path, ckpt, {"x": 1})
    loaded = load_checkpoint(tmp_path)
    assert loaded.min_confidence == 0.45 and loaded.fusion.temperature == 1.2
    a = TrainedBridge(ckpt).estimate(_tone(), "太开心了")
    b = TrainedBridge(loaded).estimate(_tone(), "太开心了")
    for e in a.distribution:
        assert a.distribution[e] == pytest.approx(
            b.distribution[e], abs=2e-3
        )  # float16 text weights
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nothing")
