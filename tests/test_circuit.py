"""Circuit breaker and the fallback synthesizer: switch to the fallback and back, with metrics."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tingshuo.core.audio import Audio
from tingshuo.engine.circuit import CircuitBreaker, CircuitState, FallbackSynthesizer
from tingshuo.tts.base import Style, UnknownVoiceError, VoiceInfo


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ToneSynth:
    """A synthesizer double: a tone per character, or a failure while ``broken`` is set."""

    def __init__(self, name: str, rate: int, freq: float) -> None:
        self.name, self.sample_rate, self.model_version = name, rate, "1"
        self.freq = freq
        self.broken: Exception | None = None
        self.calls = 0
        self.voice_names = {"v1"}

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(v, "zh") for v in sorted(self.voice_names)]

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        self.calls += 1
        if self.broken is not None:
            raise self.broken
        if voice is not None and voice not in self.voice_names:
            raise UnknownVoiceError(f"unknown voice {voice}")
        t = np.arange(int(0.05 * self.sample_rate * len(text))) / self.sample_rate
        return Audio((0.3 * np.sin(2 * np.pi * self.freq * t)).astype(np.float32), self.sample_rate)

    async def stream(self, text, style=None, voice=None, executor=None):
        for ch in text:
            yield self.synthesize(ch, style, voice)
            await asyncio.sleep(0)


def _metric(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_breaker_opens_after_threshold_and_probes_after_timeout() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("unit", failure_threshold=2, reset_timeout_s=10, clock=clock)
    assert breaker.allow() and breaker.state is CircuitState.CLOSED
    breaker.record_failure(RuntimeError())
    assert breaker.state is CircuitState.CLOSED
    breaker.record_success()  # resets the count
    breaker.record_failure(RuntimeError())
    breaker.record_failure(RuntimeError())
    assert breaker.state is CircuitState.OPEN and not breaker.allow()
    clock.now = 10
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record_failure(RuntimeError())  # probe failed: open again
    assert breaker.state is CircuitState.OPEN
    clock.now = 20
    assert breaker.allow()
    breaker.cancel_probe()  # a cancelled probe frees the slot
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()
    with pytest.raises(ValueError):
        CircuitBreaker("bad", failure_threshold=0)


def test_fallback_synthesizer_switches_over_and_back(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    primary, fallback = ToneSynth("primary", 24000, 220), ToneSynth("backup", 16000, 440)
    breaker = CircuitBreaker("tts.switch", failure_threshold=2, reset_timeout_s=30, clock=clock)
    synth = FallbackSynthesizer(primary, fallback, breaker)
    opened = _metric("tingshuo_circuit_transitions_total", name="tts.switch", state="open")

    assert synth.synthesize("你好").sample_rate == 24000
    primary.broken = RuntimeError("onnx session died")
    with caplog.at_level(logging.INFO, logger="tingshuo.circuit"):
        for _ in range(2):
            audio = synth.synthesize("你好")  # each call still gets audio, from the fallback
            assert audio.sample_rate == 16000 and audio.samples.size == 1600
        assert breaker.state is CircuitState.OPEN
        assert "circuit tts.switch -> open" in caplog.text
        calls = primary.calls
        for _ in range(5):
            assert synth.synthesize("好").sample_rate == 16000
        assert primary.calls == calls  # open: the primary is not even tried
        assert _metric("tingshuo_circuit_state", name="tts.switch") == CircuitState.OPEN.value
        assert (
            _metric("tingshuo_circuit_transitions_total", name="tts.switch", state="open")
            == opened + 1
        )
        assert _metric("tingshuo_circuit_fallback_calls_total", name="tts.switch") >= 7

        clock.now = 30  # still broken: the probe fails, stays on the fallback
        assert synth.synthesize("好").sample_rate == 16000
        assert primary.calls == calls + 1 and breaker.state is CircuitState.OPEN

        primary.broken = None  # recovered
        clock.now = 60
        assert synth.synthesize("好").sample_rate == 24000
        assert breaker.state is CircuitState.CLOSED
        assert "circuit tts.switch -> closed (primary recovered)" in caplog.text
    assert _metric("tingshuo_circuit_state", name="tts.switch") == CircuitState.CLOSED.value


def test_client_errors_do_not_trip_the_breaker() -> None:
    primary, fallback = ToneSynth("p", 24000, 220), ToneSynth("f", 16000, 440)
    synth = FallbackSynthesizer(primary, fallback, CircuitBreaker("tts.client", 1))
    for _ in range(3):
        with pytest.raises(UnknownVoiceError):
            synth.synthesize("你好", voice="nope")
    assert synth.breaker.state is CircuitState.CLOSED
    # While open, a primary-only voice name falls back to the fallback's default voice.
    primary.voice_names.add("primary-only")
    primary.broken = RuntimeError("down")
    assert synth.synthesize("你", voice="primary-only").sample_rate == 16000


def test_stream_falls_back_before_first_chunk_and_reraises_after() -> None:
    primary, fallback = ToneSynth("p", 24000, 220), ToneSynth("f", 16000, 440)
    synth = FallbackSynthesizer(primary, fallback, CircuitBreaker("tts.stream", 5))

    async def collect(text: str) -> list[Audio]:
        return [a async for a in synth.stream(text)]

    assert [a.sample_rate for a in asyncio.run(collect("你好"))] == [24000, 24000]
    primary.broken = RuntimeError("down")
    assert [a.sample_rate for a in asyncio.run(collect("你好"))] == [16000, 16000]

    class MidFail(ToneSynth):
        async def stream(self, text, style=None, voice=None, executor=None):
            yield self.synthesize(text[0])
            raise RuntimeError("died mid-reply")

    mid = FallbackSynthesizer(MidFail("m", 24000, 220), fallback, CircuitBreaker("tts.mid", 5))

    async def run_mid() -> int:
        got = 0
        with pytest.raises(RuntimeError, match="mid-reply"):
            async for _ in mid.stream("你好"):
                got += 1
        return got

    assert asyncio.run(run_mid()) == 1


def test_cancelled_stream_leaves_the_breaker_usable() -> None:
    clock = FakeClock()
    primary, fallback = ToneSynth("p", 24000, 220), ToneSynth("f", 16000, 440)
    breaker = CircuitBreaker("tts.cancel", 1, reset_timeout_s=5, clock=clock)
    synth = FallbackSynthesizer(primary, fallback, breaker)
    primary.broken = RuntimeError("down")
    synth.synthesize("x")
    primary.broken = None
    clock.now = 5

    async def cancel_probe() -> None:
        gen = synth.stream("你好啊")
        await gen.__anext__()  # the half-open probe starts...
        await gen.aclose()  # ...and the client barges in

    asyncio.run(cancel_probe())
    assert breaker.allow()  # the probe slot was freed
