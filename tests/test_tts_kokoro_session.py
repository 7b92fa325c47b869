"""tts.kokoro: the onnxruntime session options Kokoro runs with, and that config reaches them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tingshuo.tts import kokoro as kk
from tingshuo.tts.config import KokoroConfig


def test_session_options_are_applied() -> None:
    opts = kk.session_options(3, "extended")
    assert opts.intra_op_num_threads == 3
    assert opts.inter_op_num_threads == 1
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert opts.enable_cpu_mem_arena and opts.enable_mem_pattern
    assert kk.session_options(0, "all").intra_op_num_threads == 1  # at least one thread
    levels = {
        name: kk.session_options(1, name).graph_optimization_level for name in kk.GRAPH_OPTIMIZATION
    }
    assert levels["disable"] == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert levels["basic"] == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert levels["all"] == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_unknown_optimization_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="graph_optimization must be one of"):
        kk.session_options(2, "max")


def test_default_level_is_all() -> None:
    assert KokoroConfig().graph_optimization == "all"


def test_synthesizer_opens_its_session_with_the_configured_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[Any, ...]] = []

    def fake_session(path: Path, threads: int, graph_optimization: str = "all") -> object:
        seen.append((path, threads, graph_optimization))
        return object()

    monkeypatch.setattr(kk, "_session", fake_session)
    synth = kk.KokoroSynthesizer(tmp_path / "m.onnx", threads=1, graph_optimization="basic")
    assert seen == [(tmp_path / "m.onnx", 1, "basic")]
    assert synth.graph_optimization == "basic"
    assert np.asarray(synth.voices()).size > 0


class _FakeSession:
    """Records the ``speed`` input of every model call; returns 0.2 s of a tone."""

    def __init__(self) -> None:
        self.speeds: list[float] = []

    def run(self, _outputs: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.speeds.append(float(feeds["speed"][0]))
        t = np.arange(4800) / 24000
        return [(0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)[None, :]]


def _fake_synth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **kw: Any) -> Any:
    fake = _FakeSession()
    monkeypatch.setattr(kk, "_session", lambda *_a, **_k: fake)
    return kk.KokoroSynthesizer(tmp_path / "m.onnx", speed=0.9, **kw), fake


def test_emotion_rate_by_the_model_or_by_psola(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tingshuo.core.emotions import Emotion
    from tingshuo.tts.base import Style
    from tingshuo.tts.prosody import EMOTION_PROSODY

    angry = Style(emotion=Emotion.ANGRY, intensity=1.0)
    rate = EMOTION_PROSODY[Emotion.ANGRY].rate
    psola, fake = _fake_synth(monkeypatch, tmp_path)
    assert KokoroConfig().emotion_rate == "psola" and not psola.renders_emotion_rate
    psola.synthesize("你好", angry)
    assert fake.speeds == [pytest.approx(0.9)]  # the model speaks neutral timing
    model, fake = _fake_synth(monkeypatch, tmp_path, emotion_rate="model")
    model.synthesize("你好", angry)
    assert fake.speeds == [pytest.approx(0.9 * rate)]  # the model's own durations
    assert "+emotion-rate=model" in model.model_version
    assert "emotion-rate" not in psola.model_version
    with pytest.raises(ValueError, match="psola or model"):
        _fake_synth(monkeypatch, tmp_path, emotion_rate="stretch")
