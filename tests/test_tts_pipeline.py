"""tts.pipeline: segment planning, pauses, emotion prosody hooks and streaming behaviour.

Uses a small tone-generating backend so the pipeline's own logic is tested without a
model (the Kokoro tests cover the same paths with the real model).
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.tts.base import SSMLError, Style, UnknownVoiceError, VoiceInfo
from tingshuo.tts.pipeline import SegmentSynthesizer, plan_segments
from tingshuo.tts.prosody import ProsodyTarget

SR = 16000


class ToneSynth(SegmentSynthesizer):
    """0.1 s of 150 Hz tone per character; optionally slow, to observe streaming."""

    name = "tone"
    sample_rate = SR
    model_version = "tone-1"

    def __init__(self, delay: float = 0.0, **kw: object) -> None:
        super().__init__(default_voice="a", **kw)  # type: ignore[arg-type]
        self.delay = delay
        self.rendered: list[str] = []
        self.lock = threading.Lock()

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("a", "zh"), VoiceInfo("b", "zh")]

    def render_segment(self, text: str, voice: str, target: ProsodyTarget) -> np.ndarray:
        time.sleep(self.delay)
        with self.lock:
            self.rendered.append(text)
        n = int(0.1 * SR) * len(text)
        return (0.3 * np.sin(2 * np.pi * 150 * np.arange(n) / SR)).astype(np.float32)


def test_plan_normalises_and_splits() -> None:
    segs = plan_segments(
        "今天是2019年1月31号。我们9点25分开会，请准时。", max_chars=60, first_chars=None
    )
    assert [s.text for s in segs] == [
        "今天是二零一九年一月三十一号。",
        "我们九点二十五分开会，请准时。",
    ]
    assert segs[0].pause_after_ms == 250


def test_first_segment_is_short() -> None:
    text = "随着天气转热，各地的游泳场所开始人头攒动。"
    segs = plan_segments(text, first_chars=10)
    assert segs[0].text == "随着天气转热，" and segs[0].pause_after_ms == 120
    segs = plan_segments("中华人民共和国成立于一九四九年十月一日", first_chars=10)
    assert len(segs[0].text) <= 10 and "".join(s.text for s in segs).startswith("中华人民共和国")


def test_stream_segments_grow_from_the_first() -> None:
    """After a short first segment each bound doubles (6, 12, 24 … up to max_chars), so a
    segment renders in about the time the audio before it plays; the text is kept whole."""
    text = (
        "如果您在收货时发现商品有任何损坏，请在签收后四十八小时内联系我们，"
        "我们会尽快为您安排退换货服务。另外，本月会员积分活动正在进行中。"
    )
    segs = [s.text for s in plan_segments(text, max_chars=60, first_chars=6)]
    assert "".join(segs) == text
    assert len(segs[0]) <= 6 and len(segs[1]) <= 12 and len(segs[2]) <= 24
    assert max(len(s) for s in segs) <= 60
    # whole-text synthesis (no first_chars) keeps sentences together
    whole = [s.text for s in plan_segments(text, max_chars=60)]
    assert len(whole) < len(segs)


def test_breaks_and_emotion_pauses() -> None:
    segs = plan_segments('<speak><break time="300ms"/>你好<break time="500ms"/>再见。</speak>')
    assert segs[0].pause_before_ms == 300 and segs[0].pause_after_ms == 500
    sad = plan_segments("你好，再见。", Style(emotion=Emotion.SAD))
    neutral = plan_segments("你好，再见。")
    assert sad[0].pause_after_ms > neutral[0].pause_after_ms


def test_punctuation_only_text_is_silent() -> None:
    synth = ToneSynth()
    assert synth.synthesize("。。！").duration == 0
    assert synth.rendered == []


def test_voice_and_ssml_errors_come_first() -> None:
    synth = ToneSynth()
    with pytest.raises(UnknownVoiceError, match="available: a, b"):
        synth.synthesize("你好", voice="z")
    with pytest.raises(SSMLError):
        synth.synthesize("<speak><bogus/></speak>")
    assert synth.rendered == []


def test_emotion_rendering_changes_audio_and_can_be_disabled() -> None:
    on, off = ToneSynth(), ToneSynth(emotion_rendering=False)
    sad_on = on.synthesize("你好。", Style(emotion=Emotion.SAD))
    sad_off = off.synthesize("你好。", Style(emotion=Emotion.SAD))
    neutral = on.synthesize("你好。")
    assert np.sqrt(np.mean(sad_on.samples**2)) < np.sqrt(np.mean(neutral.samples**2))
    assert sad_on.duration > neutral.duration  # slower + longer pause
    assert sad_off.duration == pytest.approx(neutral.duration, abs=0.01)


def test_stream_yields_first_segment_before_the_rest_is_done() -> None:
    synth = ToneSynth(delay=0.3, parallel_segments=2)
    text = "一二三。四五六。七八九。十一二。"

    async def run() -> tuple[float, float, int]:
        t0 = time.perf_counter()
        first = None
        n = 0
        with ThreadPoolExecutor(2) as pool:
            async for _chunk in synth.stream(text, executor=pool):
                n += 1
                first = first or time.perf_counter() - t0
        return first or 0.0, time.perf_counter() - t0, n

    first, total, n = asyncio.run(run())
    assert n == 4
    assert first < total / 2
    batch = ToneSynth().synthesize(text)
    assert batch.duration == pytest.approx(4 * 0.4 + 4 * 0.25, abs=0.01)  # 4 chars each


def test_closing_the_stream_early_stops_synthesis() -> None:
    synth = ToneSynth(delay=0.2, parallel_segments=1)
    text = "。".join("一二三" for _ in range(8)) + "。"

    async def run() -> None:
        gen = synth.stream(text)
        async for _chunk in gen:
            break
        await gen.aclose()
        await asyncio.sleep(0.6)

    asyncio.run(run())
    assert len(synth.rendered) <= 3  # the remaining segments were never rendered


def test_emotion_cues_can_be_rendered_one_by_one() -> None:
    """tts.emotion_cues: a cue left out is not rendered (the others still are), so each
    correction of the emotion table can be measured with and without."""
    sad = Style(emotion=Emotion.SAD, intensity=1.0)
    every = ToneSynth().synthesize("你好，你好。", sad)
    no_energy = ToneSynth(emotion_cues=frozenset({"rate", "pitch", "range", "pause"}))
    no_timing = ToneSynth(emotion_cues=frozenset({"pitch", "range", "energy"}))
    neutral = ToneSynth().synthesize("你好，你好。")

    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x[np.abs(x) > 1e-4] ** 2)))

    quiet = no_energy.synthesize("你好，你好。", sad)
    assert rms(quiet.samples) > 1.4 * rms(every.samples)  # sad's -4 dB not applied
    assert quiet.duration == pytest.approx(every.duration, abs=0.01)  # rate, pauses kept
    timed = no_timing.synthesize("你好，你好。", sad)
    assert timed.duration == pytest.approx(neutral.duration, abs=0.01)  # no stretch, no pause
    assert rms(timed.samples) < 0.8 * rms(neutral.samples)
    assert no_timing.plan("你好，你好。", sad)[0].pause_after_ms == 250  # unscaled
    assert ToneSynth().plan("你好，你好。", sad)[0].pause_after_ms > 250
