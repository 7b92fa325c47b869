"""The packaged default bridge on real input: text, real speech, fused; calibrated output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.audio import Audio, read_audio
from tingshuo.core.emotions import EMOTIONS, Emotion
from tingshuo.dialog.base import EmotionBridge
from tingshuo.dialog.bridge import EmotionInputError, TrainedBridge
from tingshuo.dialog.config import DialogConfig
from tingshuo.dialog.factory import build_bridge


@pytest.fixture(scope="module")
def bridge() -> TrainedBridge:
    return build_bridge(DialogConfig())


def test_default_checkpoint_is_a_bridge(bridge: TrainedBridge) -> None:
    assert isinstance(bridge, EmotionBridge)


def test_text_estimates_are_distributions(bridge: TrainedBridge) -> None:
    est = bridge.estimate(None, "你们这服务太差了，我要投诉！气死我了")
    assert est.source == "text"
    assert set(est.distribution) == set(EMOTIONS)
    assert abs(sum(est.distribution.values()) - 1) < 1e-6
    assert est.confidence == max(est.distribution.values())
    assert est.emotion is Emotion.ANGRY


def test_clear_cases_in_the_right_direction(bridge: TrainedBridge) -> None:
    angry = bridge.estimate(None, "你给我滚！别再让我看见你")
    thanks = bridge.estimate(None, "太好了，真是太开心了，谢谢你")
    assert angry.distribution[Emotion.ANGRY] > thanks.distribution[Emotion.ANGRY]
    assert thanks.distribution[Emotion.HAPPY] > angry.distribution[Emotion.HAPPY]


def test_audio_only_and_fused_on_real_speech(bridge: TrainedBridge, asr_dev: Path) -> None:
    audio = read_audio(asr_dev / "wav" / "funasr_asr_example_zh.wav")
    alone = bridge.estimate(audio, None)
    assert alone.source == "audio" and abs(sum(alone.distribution.values()) - 1) < 1e-6
    text = "欢迎大家来体验达摩院推出的语音识别模型"
    fused = bridge.estimate(audio, text)
    assert fused.source == "fused"
    text_only = bridge.estimate(None, text)
    assert fused.distribution != text_only.distribution  # the audio changed the estimate


def test_reply_style_follows_the_empathy_map(bridge: TrainedBridge) -> None:
    est = bridge.estimate(None, "你们这服务太差了，我要投诉！气死我了")
    assert bridge.reply_style(est) == bridge.empathy.style_for(est)


def test_bad_input(bridge: TrainedBridge) -> None:
    with pytest.raises(EmotionInputError):
        bridge.estimate(None, "   ")
    with pytest.raises(EmotionInputError):
        bridge.estimate(Audio(np.zeros(1600, np.float32), 16000), None)
    # unusable audio with text falls back to the text
    assert bridge.estimate(Audio(np.zeros(1600, np.float32), 16000), "谢谢").source == "text"
