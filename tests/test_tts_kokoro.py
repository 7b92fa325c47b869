"""tts.kokoro: the real Kokoro model — voices, synthesis, streaming, threads, round trip.

Model-heavy (marked slow); the synthesizer is loaded once for the module.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tingshuo.core.emotions import Emotion, UnknownEmotionError, parse_emotion
from tingshuo.core.errors import ModelNotFoundError
from tingshuo.tts.base import SSMLError, Style, Synthesizer, UnknownVoiceError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kokoro():  # noqa: ANN201
    from tingshuo.engine.config import cache_root, load_config
    from tingshuo.tts.factory import build_synthesizer

    try:
        return build_synthesizer(
            load_config(overrides=["tts.cache.enabled=false"]).tts,
            cache_root(load_config()),
            "kokoro",
        )
    except ModelNotFoundError as exc:
        pytest.skip(f"Kokoro weights unavailable: {exc}")


JAPANESE = {"jf_gongitsune", "jf_alpha", "jf_nezumi", "jf_tebukuro", "jm_kumo"}


@pytest.fixture(scope="module")
def native(kokoro):  # noqa: ANN001, ANN201
    """The synthesizer, when the native Mandarin voices were fetched (npm and a registry)."""
    if kokoro.native_dir is None:
        pytest.skip("native Mandarin voices unavailable (npm missing or no registry access)")
    return kokoro


def test_protocol_and_voices(kokoro) -> None:  # noqa: ANN001
    assert isinstance(kokoro, Synthesizer)
    assert kokoro.sample_rate == 24000 and kokoro.model_version
    names = [v.name for v in kokoro.voices()]
    assert names[0] == kokoro.default_voice
    assert set(names) >= JAPANESE


def test_native_voices_listed_first_with_gender_and_language(native) -> None:  # noqa: ANN001
    from tingshuo.tts.kokoro_voices import NATIVE_VOICES

    infos = native.voices()
    assert {v.name for v in infos} == JAPANESE | {v.name for v in NATIVE_VOICES}
    langs = [v.language for v in infos]
    assert langs == ["zh"] * 8 + ["ja"] * 5  # Mandarin first, the default among them
    genders = {v.name: v.gender for v in infos}
    assert genders["zf_xiaoxiao"] == "female" and genders["zm_yunyang"] == "male"
    assert genders["jm_kumo"] == "male" and genders["jf_alpha"] == "female"


def test_the_default_voice_is_native_mandarin(native) -> None:  # noqa: ANN001
    from tingshuo.tts.config import KokoroConfig

    default = native.voices()[0]
    assert default.name == KokoroConfig().voice == native.default_voice
    assert default.language == "zh" and default.name.startswith(("zf_", "zm_"))
    # a native voice really is used: it differs from the Japanese fallback's audio
    ours = native.synthesize("您好，请问有什么可以帮您？")
    theirs = native.synthesize("您好，请问有什么可以帮您？", voice="jf_gongitsune")
    assert ours.duration > 1.0
    n = min(len(ours.samples), len(theirs.samples))
    assert not np.allclose(ours.samples[:n], theirs.samples[:n], atol=1e-3)


def test_openai_voice_names_map_to_native_voices(native) -> None:  # noqa: ANN001
    from tingshuo.tts.kokoro_voices import OPENAI_VOICES

    genders = {v.name: v.gender for v in native.voices()}
    assert native.resolve_voice("alloy") == OPENAI_VOICES["alloy"]
    assert genders[native.resolve_voice("onyx")] == "male"
    assert genders[native.resolve_voice("Nova")] == "female"
    a = native.synthesize("你好", voice="echo")
    b = native.synthesize("你好", voice=OPENAI_VOICES["echo"])
    assert np.array_equal(a.samples, b.samples)


def test_without_npm_the_japanese_voices_speak(
    kokoro,  # noqa: ANN001
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No npm on PATH and no fetched voices: the engine starts on the Japanese voices and
    logs a warning that names the install command."""
    import dataclasses
    import logging

    from tingshuo.tts.config import TTSConfig
    from tingshuo.tts.kokoro import FALLBACK_VOICE, KokoroSynthesizer

    monkeypatch.setenv("PATH", str(tmp_path / "no-npm-here"))
    tc = TTSConfig()
    kc = dataclasses.replace(
        tc.kokoro, model_dir=str(kokoro.model_path.parent), voices_dir=str(tmp_path / "v")
    )
    with caplog.at_level(logging.WARNING, logger="tingshuo.tts.kokoro"):
        synth = KokoroSynthesizer.from_config(dataclasses.replace(tc, kokoro=kc), tmp_path)
    assert synth.native_dir is None and synth.default_voice == FALLBACK_VOICE
    assert {v.language for v in synth.voices()} == {"ja"}
    assert "apt-get install -y nodejs npm" in caplog.text
    assert synth.resolve_voice("alloy") == FALLBACK_VOICE  # OpenAI names: the default voice


def test_synthesis_is_speech_shaped(kokoro) -> None:  # noqa: ANN001
    audio = kokoro.synthesize("你好，欢迎使用听说。")
    assert audio.sample_rate == 24000
    assert 1.0 < audio.duration < 6.0
    assert np.max(np.abs(audio.samples)) < 1.0
    assert float(np.sqrt(np.mean(audio.samples**2))) > 0.01
    assert kokoro.synthesize("   ").duration == 0


def test_unknown_voice_and_bad_ssml(kokoro) -> None:  # noqa: ANN001
    with pytest.raises(UnknownVoiceError, match="available: .*jf_gongitsune"):
        kokoro.synthesize("你好", voice="nobody")
    with pytest.raises(SSMLError, match="unsupported SSML element <voice>"):
        kokoro.synthesize("<speak><voice>你好</voice></speak>")
    with pytest.raises(UnknownEmotionError, match="expected one of"):
        Style(emotion=parse_emotion("ecstatic"))


def test_ssml_break_adds_silence(kokoro) -> None:  # noqa: ANN001
    plain = kokoro.synthesize("<speak>你好再见</speak>")
    broken = kokoro.synthesize('<speak>你好<break time="800ms"/>再见</speak>')
    assert broken.duration > plain.duration + 0.5


def test_stream_yields_segments_equal_to_batch(kokoro) -> None:  # noqa: ANN001
    text = "随着天气转热，各地的游泳场所开始人头攒动。更让徐先生纳闷的是，房客的手机也打不通了。"
    style = Style(emotion=Emotion.HAPPY)

    async def collect() -> list:
        with ThreadPoolExecutor(2) as pool:
            return [chunk async for chunk in kokoro.stream(text, style, executor=pool)]

    chunks = asyncio.run(collect())
    plan = kokoro.plan(text, style, streaming=True)
    assert len(chunks) == len(plan) >= 3
    one_by_one = [kokoro.segment_audio(seg, kokoro.default_voice) for seg in plan]
    np.testing.assert_allclose(
        np.concatenate([c.samples for c in chunks]),
        np.concatenate([a.samples for a in one_by_one]),
        atol=1e-5,
    )
    # whole-text synthesis does not split off the short first segment a stream starts with
    batch_plan = kokoro.plan(text, style)
    assert len(batch_plan) < len(plan)
    assert batch_plan[0].text.startswith(plan[0].text + plan[1].text)


def test_concurrent_calls_match_sequential(kokoro) -> None:  # noqa: ANN001
    texts = ["今天天气很好。", "我们去公园吧。"]
    sequential = [kokoro.synthesize(t).samples for t in texts]
    with ThreadPoolExecutor(2) as pool:
        parallel = list(pool.map(lambda t: kokoro.synthesize(t).samples, texts))
    for a, b in zip(sequential, parallel, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _judge():  # noqa: ANN202
    """The project's Whisper recognizer (a visible skip when its weights are missing)."""
    from tingshuo.engine.config import cache_root, load_config

    config = load_config()
    from tingshuo.asr.factory import build_recognizer

    try:
        recognizer = build_recognizer(config.asr, cache_root(config), "whisper")
    except ModelNotFoundError as exc:
        pytest.skip(f"Whisper weights unavailable: {exc}")
    return lambda audio: recognizer.transcribe(audio.resample(16000)).text


def _norm(text: str) -> str:
    import opencc

    text = opencc.OpenCC("t2s").convert(unicodedata.normalize("NFKC", text))
    return re.sub(r"[\W_]+", "", text)


def test_round_trip_through_the_recognizer(kokoro, shared: Path) -> None:  # noqa: ANN001
    import jiwer

    lines = (shared / "eval" / "tts-text" / "csmsc_test.txt").read_text(encoding="utf-8")
    refs = [line.split(maxsplit=1)[1] for line in lines.splitlines()[:4]]
    transcribe = _judge()
    hyps = [transcribe(kokoro.synthesize(r)) for r in refs]
    cer = jiwer.cer([_norm(r) for r in refs], [_norm(h) or " " for h in hyps])
    assert cer <= 0.25, f"round-trip CER {cer:.3f}: {list(zip(refs, hyps, strict=True))}"


def test_rendering_settings_are_in_the_cache_version(kokoro) -> None:  # noqa: ANN001
    """Audio cached at one speed / tone range is not served after the config changes."""
    from tingshuo.tts.kokoro import KokoroSynthesizer

    other = KokoroSynthesizer(kokoro.model_path, threads=1, speed=1.0, tone_range=1.0)
    assert kokoro.model_version != other.model_version
    assert f"speed={kokoro.speed:g}" in kokoro.model_version
    assert "tone=1" in other.model_version
