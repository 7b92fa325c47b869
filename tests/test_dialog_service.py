"""dialog.service.analyze: the JSON shape the CLI and POST /api/emotion return."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tingshuo.core.audio import read_audio
from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.bridge import EmotionInputError
from tingshuo.dialog.config import DialogConfig
from tingshuo.dialog.factory import build_bridge
from tingshuo.dialog.service import analyze


@pytest.fixture(scope="module")
def bridge():  # noqa: ANN201
    return build_bridge(DialogConfig())


def test_text_and_audio(bridge, asr_dev: Path) -> None:  # noqa: ANN001
    audio = read_audio(asr_dev / "wav" / "funasr_llamacpp_sample.wav")
    out = analyze(bridge, audio, "我想问我在滨海新区有房")
    json.dumps(out)  # JSON-ready
    assert out["source"] == "fused"
    assert list(out["distribution"]) and set(out["distribution"]) == {e.value for e in EMOTIONS}
    probs = list(out["distribution"].values())
    assert probs == sorted(probs, reverse=True)
    # the top emotion, or neutral when below the bridge's confidence threshold
    assert out["emotion"] == next(iter(out["distribution"])) or (
        out["uncertain"] and out["emotion"] == "neutral"
    )
    assert set(out["reply_style"]) == {"emotion", "intensity"}


def test_nothing_to_analyze(bridge) -> None:  # noqa: ANN001
    with pytest.raises(EmotionInputError):
        analyze(bridge, None, None)
