"""The sambert synthesizer end to end on tiny random-weight voices in the ModelScope layout."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.sambert_helpers import write_tiny_model_dir
from tingshuo.core.emotions import Emotion
from tingshuo.engine.config import cache_root, load_config
from tingshuo.tts.base import Style, Synthesizer, UnknownVoiceError
from tingshuo.tts.sambert.model_dir import ModelDir, ModelDirError
from tingshuo.tts.sambert.symbols import UnknownSymbolError
from tingshuo.tts.sambert.synthesizer import SambertSynthesizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model_dir(tmp_path_factory.mktemp("sambert"))


@pytest.fixture(scope="module")
def synth(tiny_dir: Path) -> SambertSynthesizer:
    return SambertSynthesizer(ModelDir.open(str(tiny_dir)), threads=2)


def test_protocol_and_voices(synth: SambertSynthesizer) -> None:
    assert isinstance(synth, Synthesizer)
    assert synth.name == "sambert" and synth.sample_rate == 16000
    assert [v.name for v in synth.voices()] == ["zhitian_emo", "plain"]
    assert "emotion tokens" in synth.voices()[0].description
    assert "zhitian_emo" in synth.model_version and "checkpoint_0.pth" in synth.model_version


def test_synthesize_gives_bounded_audio(synth: SambertSynthesizer) -> None:
    audio = synth.synthesize("你好，世界。")
    assert audio.sample_rate == 16000
    assert len(audio.samples) > 16000 // 10
    assert np.isfinite(audio.samples).all() and np.abs(audio.samples).max() <= 1.0
    assert np.abs(audio.samples).max() > 0


def test_mel_length_follows_predicted_durations(synth: SambertSynthesizer) -> None:
    """The tiny voice predicts 4 frames per token; rate 2 halves them."""
    (line,) = synth.token_lines("你好。", "zhitian_emo")
    n_tokens = len(line.split())  # 4 phones + #4
    assert synth.mel(line, "zhitian_emo").shape == (4 * n_tokens, 80)
    assert synth.mel(line, "zhitian_emo", rate=2.0).shape == (2 * n_tokens, 80)
    wav = synth.vocode(synth.mel(line, "zhitian_emo"), "zhitian_emo")
    assert wav.shape == (4 * n_tokens * 200,)


def test_native_emotion_tokens(synth: SambertSynthesizer) -> None:
    (happy,) = synth.token_lines("你好。", "zhitian_emo", Emotion.HAPPY)
    assert all("$emotion_happy$F7}" in t for t in happy.split())
    (hate,) = synth.token_lines("你好。", "zhitian_emo", Emotion.HATE)
    assert "$emotion_hate$" in hate
    # a voice without emotion tokens keeps the neutral token (emotion goes to prosody)
    (plain,) = synth.token_lines("你好。", "plain", Emotion.HAPPY)
    assert "$emotion_neutral$" in plain and "$emotion_happy$" not in plain


def test_emotions_change_the_mel(synth: SambertSynthesizer) -> None:
    (neutral,) = synth.token_lines("你好。", "zhitian_emo", Emotion.NEUTRAL)
    (sad,) = synth.token_lines("你好。", "zhitian_emo", Emotion.SAD)
    m_neutral = synth.mel(neutral, "zhitian_emo")
    m_sad = synth.mel(sad, "zhitian_emo")
    assert not torch.allclose(m_neutral, m_sad)
    # intensity 0 moves the emotion embedding back to neutral
    torch.testing.assert_close(synth.mel(sad, "zhitian_emo", emotion_weight=0.0), m_neutral)


def test_ssml_emotion_equals_style_emotion(synth: SambertSynthesizer) -> None:
    ssml = synth.synthesize('<speak><emotion category="sad">你好。</emotion></speak>')
    styled = synth.synthesize("你好。", Style(emotion=Emotion.SAD))
    neutral = synth.synthesize("你好。")
    np.testing.assert_allclose(ssml.samples, styled.samples, atol=1e-6)
    assert not np.allclose(styled.samples[: len(neutral.samples)], neutral.samples)


def test_stream_yields_per_segment_and_matches_batch(synth: SambertSynthesizer) -> None:
    text = "你好。今天天气很好。我们出去走走吧！"

    async def collect() -> list:
        return [a async for a in synth.stream(text)]

    chunks = asyncio.run(collect())
    assert len(chunks) == 3
    whole = synth.synthesize(text)
    np.testing.assert_allclose(
        np.concatenate([c.samples for c in chunks]), whole.samples, atol=1e-6
    )


def test_sentence_pause_is_silence(synth: SambertSynthesizer) -> None:
    one = synth.synthesize("你好。")
    pause = synth.sentence_pause_ms * 16000 // 1000
    assert np.all(one.samples[-pause:] == 0.0)


def test_unknown_voice_and_symbol(synth: SambertSynthesizer) -> None:
    with pytest.raises(UnknownVoiceError, match="zhitian_emo"):
        synth.synthesize("你好", voice="nobody")
    with pytest.raises(ModelDirError, match="nobody"):
        synth.load("nobody")
    with pytest.raises(UnknownSymbolError, match="'😀'"):
        synth.synthesize("你好😀")


def test_empty_text_gives_empty_audio(synth: SambertSynthesizer) -> None:
    assert len(synth.synthesize("").samples) == 0


def test_build_from_config_and_factory(tiny_dir: Path) -> None:
    from tingshuo.tts.factory import build_synthesizer
    from tingshuo.tts.sambert import backend_status, build

    cfg = load_config(
        env={},
        overrides=[
            f"tts.sambert.model_dir={tiny_dir}",
            "tts.sambert.voice=plain",
            "tts.cache.enabled=false",
        ],
    )
    synth = build(cfg.tts)
    assert synth.default_voice == "plain" and synth.voices()[0].name == "plain"
    via_factory = build_synthesizer(cfg.tts, cache_root(cfg), "sambert")
    assert via_factory.name == "sambert"
    assert len(via_factory.synthesize("好。").samples) > 0
    status = backend_status(cfg.tts)
    assert status["ready"] and "zhitian_emo" in status["detail"]
    missing = load_config(env={}, overrides=["tts.sambert.model_dir=/nonexistent/sambert"])
    assert backend_status(missing.tts)["ready"] is False


@pytest.mark.slow
def test_real_voice_directory() -> None:
    """Runs only where TINGSHUO_SAMBERT_DIR points at a real ModelScope Sambert-HifiGan dir."""
    spec = os.environ.get("TINGSHUO_SAMBERT_DIR")
    if not spec:
        pytest.skip("TINGSHUO_SAMBERT_DIR is not set: no real Sambert-HifiGan voices available")
    synth = SambertSynthesizer(ModelDir.open(spec), threads=2)
    audio = synth.synthesize("今天天气很好，我们一起去公园散步吧。", Style(emotion=Emotion.HAPPY))
    assert audio.sample_rate == synth.sample_rate
    assert 1.0 < len(audio.samples) / audio.sample_rate < 10.0
    rms = float(np.sqrt(np.mean(audio.samples**2)))
    assert 0.01 < rms < 0.5


def test_cli_say_with_sambert_backend(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tingshuo say --backend sambert --model-dir DIR`` on a layout-correct directory."""
    import soundfile as sf
    from click.testing import CliRunner

    from tingshuo.engine.cli import cli

    monkeypatch.setenv("TINGSHUO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out.wav"
    args = ["say", "--backend", "sambert", "--model-dir", str(tiny_dir), "--emotion", "happy"]
    result = CliRunner().invoke(cli, [*args, "-o", str(out), "你好，世界。"])
    assert result.exit_code == 0, result.output
    data, sr = sf.read(out, dtype="float32")
    assert sr == 16000 and len(data) > 1600
    missing = CliRunner().invoke(
        cli,
        [
            "say",
            "--backend",
            "sambert",
            "--model-dir",
            str(tmp_path / "none"),
            "-o",
            str(out),
            "你好",
        ],
    )
    assert missing.exit_code != 0 and "does not exist" in missing.output
