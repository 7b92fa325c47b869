"""tts.prosody: the parameter table, and every cue measured on real Kokoro output.

For each emotion at intensity 1 the f0 level and range (parselmouth pitch analysis),
energy and speech rate of real synthesized speech must move against neutral in the
direction the table (docs/emotion-prosody.md) prescribes.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.engine.config import cache_root
from tingshuo.tts.base import Style
from tingshuo.tts.prosody import EMOTION_PROSODY, render, soft_limit, target_for

TEXT = "今天的天气真不错，我们一起去公园散步吧。"


def test_table_is_frozen_and_complete() -> None:
    assert set(EMOTION_PROSODY) == set(Emotion)
    n = EMOTION_PROSODY[Emotion.NEUTRAL]
    assert (n.rate, n.pitch_st, n.pitch_range, n.energy_db, n.pause) == (1, 0, 1, 0, 1)
    with pytest.raises(FrozenInstanceError):
        EMOTION_PROSODY[Emotion.SAD].rate = 2.0  # type: ignore[misc]


def test_intensity_scaling() -> None:
    row = EMOTION_PROSODY[Emotion.SAD]
    zero = target_for(Emotion.SAD, 0.0)
    assert (zero.rate, zero.pitch_st, zero.pitch_range, zero.gain_db) == (1, 0, 1, 0)
    two = target_for(Emotion.SAD, 2.0, rate=1.1, pitch=1.0, volume=0.5)
    assert two.rate == pytest.approx(1.1 * row.rate**2)
    assert two.pitch_st == pytest.approx(1.0 + 2 * row.pitch_st)
    assert two.pitch_range == pytest.approx(row.pitch_range**2)
    assert two.gain_db == pytest.approx(2 * row.energy_db + 20 * math.log10(0.5))
    with pytest.raises(ValueError):
        target_for(Emotion.SAD, 2.5)


def test_soft_limit_keeps_full_scale() -> None:
    x = np.linspace(-2, 2, 1001, dtype=np.float32)
    y = soft_limit(x)
    assert np.max(np.abs(y)) < 1.0
    np.testing.assert_array_equal(y[np.abs(x) <= 0.8], x[np.abs(x) <= 0.8])
    assert np.all(np.diff(y) >= 0)


def test_psola_shifts_a_tone() -> None:
    import parselmouth

    sr = 24000
    t = np.arange(sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    out = render(tone, sr, target_for(Emotion.NEUTRAL, 1.0, pitch=12.0))
    f0 = parselmouth.Sound(out.astype(np.float64), sr).to_pitch().selected_array["frequency"]
    assert np.median(f0[f0 > 0]) == pytest.approx(400, rel=0.03)


# -- measured on real speech ---------------------------------------------------------


def _measure(samples: np.ndarray, sr: int) -> dict[str, float]:
    import parselmouth

    snd = parselmouth.Sound(samples.astype(np.float64), sr)
    f0 = snd.to_pitch(time_step=0.01, pitch_floor=75, pitch_ceiling=600).selected_array["frequency"]
    st = 12 * np.log2(f0[f0 > 0] / 100.0)
    frame = sr // 100
    n = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    active = rms > 0.1 * np.max(rms)  # speech frames (pauses excluded)
    return {
        "f0_level": float(np.median(st)),
        "f0_range": float(np.percentile(st, 90) - np.percentile(st, 10)),
        "energy": float(20 * np.log10(np.sqrt(np.mean(rms[active] ** 2)))),
        "speech_s": float(active.sum() / 100),
    }


@pytest.fixture(scope="module")
def kokoro():  # noqa: ANN201
    from tingshuo.core.errors import ModelNotFoundError
    from tingshuo.engine.config import load_config
    from tingshuo.tts.factory import build_synthesizer

    try:
        return build_synthesizer(
            load_config(overrides=["tts.cache.enabled=false"]).tts,
            cache_root(load_config()),
            "kokoro",
        )
    except ModelNotFoundError as exc:
        pytest.skip(f"Kokoro weights unavailable: {exc}")


@pytest.fixture(scope="module")
def measured(kokoro) -> dict[Emotion, dict[str, float]]:  # noqa: ANN001
    out = {}
    for emotion in Emotion:
        audio = kokoro.synthesize(TEXT, Style(emotion=emotion, intensity=1.0))
        out[emotion] = _measure(audio.samples, audio.sample_rate)
    return out


# Cues the default voice does not (yet) produce, each with its own strict xfail test below.
KNOWN_SHORTFALLS: dict[tuple[Emotion, str], str] = {
    (Emotion.HATE, "f0_range"): (
        "on the native default voice zm_yunjian hate lowers the pitch into low, creaky stretches "
        "that lose their pitch marks, so the measured f0 range shrinks although ×1.15 is asked "
        "(BENCHMARKS.md, emotion prosody table)"
    ),
}


def _sign(x: float, eps: float) -> int:
    return 0 if abs(x) <= eps else (1 if x > 0 else -1)


@pytest.mark.slow
@pytest.mark.parametrize("emotion", [e for e in Emotion if e is not Emotion.NEUTRAL])
def test_cues_move_in_the_intended_direction(
    emotion: Emotion, measured: dict[Emotion, dict[str, float]]
) -> None:
    row = EMOTION_PROSODY[emotion]
    got, ref = measured[emotion], measured[Emotion.NEUTRAL]
    expected = {
        "f0_level": _sign(row.pitch_st, 1e-6),
        "f0_range": _sign(math.log(row.pitch_range), 1e-6),
        "energy": _sign(row.energy_db, 1e-6),
        "speech_s": -_sign(math.log(row.rate), 1e-6),  # faster speech is shorter
    }
    for cue, direction in expected.items():
        if (emotion, cue) in KNOWN_SHORTFALLS:
            continue  # asserted by test_known_shortfall (strict xfail)
        delta = got[cue] - ref[cue]
        assert direction != 0
        assert delta * direction > 0, (
            f"{emotion}: {cue} moved {delta:+.3f} against neutral, expected sign {direction:+d} "
            f"(neutral {ref[cue]:.3f}, {emotion} {got[cue]:.3f})"
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("emotion", "cue"),
    [
        pytest.param(e, c, marks=pytest.mark.xfail(strict=True, reason=why))
        for (e, c), why in KNOWN_SHORTFALLS.items()
    ],
)
def test_known_shortfall(
    emotion: Emotion, cue: str, measured: dict[Emotion, dict[str, float]]
) -> None:
    """A cue the rendering asks for but the default voice does not produce; this test starts
    passing (and, being strict, fails the run) the day the rendering is fixed."""
    row = EMOTION_PROSODY[emotion]
    direction = _sign(math.log(row.pitch_range), 1e-6) if cue == "f0_range" else 0
    assert direction != 0
    assert (measured[emotion][cue] - measured[Emotion.NEUTRAL][cue]) * direction > 0


@pytest.mark.slow
def test_tone_range_widens_f0_excursions_only(kokoro) -> None:  # noqa: ANN001
    """The Kokoro voice calibration (tts.kokoro.tone_range) widens the f0 range of real
    speech and leaves its pitch level and length alone; 1.0 turns it off."""
    assert kokoro.tone_range == pytest.approx(1.25)  # the configured default
    widened = kokoro.synthesize(TEXT)
    kokoro.tone_range = 1.0
    try:
        plain = kokoro.synthesize(TEXT)
    finally:
        kokoro.tone_range = 1.25
    wide, flat = _measure(widened.samples, 24000), _measure(plain.samples, 24000)
    assert wide["f0_range"] > flat["f0_range"] + 0.5, (wide, flat)
    assert wide["f0_level"] == pytest.approx(flat["f0_level"], abs=1.0)
    assert abs(widened.duration - plain.duration) < 0.05 * plain.duration


def test_tone_range_out_of_bounds_is_rejected() -> None:
    from tingshuo.tts.kokoro import KokoroSynthesizer

    with pytest.raises(ValueError, match="tone_range"):
        KokoroSynthesizer("/nonexistent/model.onnx", tone_range=3.0)


def test_cue_names_are_checked() -> None:
    from tingshuo.tts.prosody import CUES, parse_cues

    assert parse_cues(",".join(CUES)) == frozenset(CUES)
    assert parse_cues(" rate , energy ") == {"rate", "energy"}
    assert parse_cues("") == frozenset()
    with pytest.raises(ValueError, match="valid: rate, pitch, range, energy, pause"):
        parse_cues("rate,tempo")


def test_without_cues_keeps_the_explicit_style() -> None:
    from tingshuo.tts.prosody import without_cues

    row = EMOTION_PROSODY[Emotion.ANGRY]
    full = target_for(Emotion.ANGRY, 1.0, rate=1.2, pitch=1.0, volume=0.5)
    assert without_cues(full, frozenset({"rate", "pitch", "range", "energy", "pause"})) == full
    bare = without_cues(full, frozenset())
    assert (bare.rate, bare.emotion_rate) == (pytest.approx(1.2), 1.0)
    assert bare.pitch_st == pytest.approx(1.0)
    assert bare.gain_db == pytest.approx(20 * math.log10(0.5))
    assert (bare.pitch_range, bare.pause) == (1.0, 1.0)
    only_range = without_cues(full, frozenset({"range"}))
    assert only_range.pitch_range == pytest.approx(row.pitch_range)
    assert only_range.rate == pytest.approx(1.2)
