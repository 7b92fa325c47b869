"""Emotion rendering by prosody: speech rate, pitch level, pitch range, energy, pauses.

Backends without emotion tokens (Kokoro) render the canonical emotions with the table
below. Pitch level, pitch range and the emotion's speech-rate change are made with
Praat's PSOLA resynthesis through praat-parselmouth (``To Manipulation`` → pitch tier /
duration tier → overlap-add); an explicit rate (``Style.rate``, SSML ``<prosody rate>``)
goes to the model's own speed control when it has one.
Energy is a gain in dB, followed by a soft limiter that keeps the signal below full scale.

The table's directions follow the cue patterns in the literature (details and the
reasoning per emotion in docs/emotion-prosody.md):

- Murray & Arnott (1993), *Toward the simulation of emotion in synthetic speech*, JASA 93(2);
- Banse & Scherer (1996), *Acoustic profiles in vocal emotion expression*, JPSP 70(3);
- Juslin & Laukka (2003), *Communication of emotions in vocal expression and music
  performance*, Psychological Bulletin 129(5), Table 7 (cue summary).

Magnitudes are kept moderate (at intensity 1 at most ±15 % rate, ±3 semitones) so that
intelligibility stays within a few CER points of neutral (benchmarks/results/tts.md).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace

import numpy as np

from tingshuo.core.emotions import Emotion, check_intensity

__all__ = [
    "CUES",
    "EmotionProsody",
    "EMOTION_PROSODY",
    "ProsodyTarget",
    "parse_cues",
    "render",
    "target_for",
    "without_cues",
]


@dataclass(frozen=True)
class EmotionProsody:
    """Prosody of one emotion at intensity 1, relative to the voice's neutral speech.

    rate: speaking-rate factor (>1 faster); pitch_st: pitch level shift in semitones;
    pitch_range: factor on f0 excursions around the speaker's mean (log domain);
    energy_db: loudness change; pause: factor on pause lengths between segments.
    """

    rate: float
    pitch_st: float
    pitch_range: float
    energy_db: float
    pause: float


# The one parameter table (see docs/emotion-prosody.md for the rationale of every cell).
# Re-tuned for the native voices (issue 14): the rate excursions of angry, sad, fear and hate
# are halved in the log (1.10 → 1.05, 0.86 → 0.93, 1.12 → 1.06, 0.88 → 0.94): the PSOLA
# stretch was the largest single intelligibility cost on zm_yunjian (round-trip CER gap to
# neutral on 30 CSMSC sentences angry +2.6 → +1.4, sad +2.2 → −0.2, hate +1.9 → +1.5; fear
# on 16: +4.5 → +2.3); happy kept (halved was worse, +2.6 → +4.2 on 16), surprise kept
# (1.05 already small). BENCHMARKS.md, "Emotion cues with and without".
EMOTION_PROSODY: dict[Emotion, EmotionProsody] = {
    Emotion.NEUTRAL: EmotionProsody(
        rate=1.00, pitch_st=0.0, pitch_range=1.00, energy_db=0.0, pause=1.00
    ),
    Emotion.HAPPY: EmotionProsody(
        rate=1.08, pitch_st=2.0, pitch_range=1.30, energy_db=2.0, pause=0.85
    ),
    Emotion.ANGRY: EmotionProsody(
        rate=1.05, pitch_st=1.5, pitch_range=1.35, energy_db=4.0, pause=0.75
    ),
    Emotion.SAD: EmotionProsody(
        rate=0.93, pitch_st=-2.0, pitch_range=0.70, energy_db=-4.0, pause=1.40
    ),
    Emotion.FEAR: EmotionProsody(
        rate=1.06, pitch_st=2.5, pitch_range=0.80, energy_db=-1.5, pause=1.20
    ),
    Emotion.HATE: EmotionProsody(
        rate=0.94, pitch_st=-1.5, pitch_range=1.15, energy_db=-1.0, pause=1.20
    ),
    Emotion.SURPRISE: EmotionProsody(
        rate=1.05, pitch_st=3.0, pitch_range=1.40, energy_db=2.5, pause=0.90
    ),
}

# the emotion cues the table renders, by their config names (tts.emotion_cues)
CUES: tuple[str, ...] = ("rate", "pitch", "range", "energy", "pause")


def parse_cues(spec: str) -> frozenset[str]:
    """``"rate,pitch,range,energy,pause"`` (any subset, comma-separated; empty: none) →
    the set; :class:`ValueError` naming the valid cues for anything else."""
    cues = frozenset(c.strip() for c in spec.split(",") if c.strip())
    unknown = cues - set(CUES)
    if unknown:
        raise ValueError(
            f"unknown emotion cue(s) {', '.join(sorted(unknown))}; valid: {', '.join(CUES)}"
        )
    return cues


PITCH_FLOOR_HZ = 75.0
PITCH_CEILING_HZ = 600.0
PSOLA_TIME_STEP_S = 0.01
_praat_lock = threading.Lock()
PRAAT_SEED = 20240917
LIMIT_KNEE = 0.8  # soft limiter: samples above this are compressed towards full scale


@dataclass(frozen=True)
class ProsodyTarget:
    """Resolved prosody for one piece of speech (emotion × intensity × explicit style)."""

    rate: float = 1.0  # explicit (style) rate × emotion rate
    emotion_rate: float = 1.0  # the emotion's share of ``rate``
    pitch_st: float = 0.0
    pitch_range: float = 1.0
    gain_db: float = 0.0
    pause: float = 1.0
    emotion_pitch_st: float = 0.0  # the emotion's share of ``pitch_st``
    emotion_gain_db: float = 0.0  # the emotion's share of ``gain_db``

    @property
    def needs_pitch(self) -> bool:
        """Whether PSOLA pitch resynthesis is needed."""
        return abs(self.pitch_st) > 1e-3 or abs(self.pitch_range - 1.0) > 1e-3


def target_for(
    emotion: Emotion, intensity: float, rate: float = 1.0, pitch: float = 0.0, volume: float = 1.0
) -> ProsodyTarget:
    """Scale the table row by ``intensity`` (0 = neutral, 2 = twice the excursion) and
    combine it with explicit style adjustments (rate factor, semitones, linear volume).

    Factors scale geometrically (``rate ** intensity``), shifts linearly.
    """
    k = check_intensity(intensity)
    row = EMOTION_PROSODY[emotion]
    vol_db = 20 * math.log10(volume) if volume > 0 else -120.0
    return ProsodyTarget(
        rate=rate * row.rate**k,
        emotion_rate=row.rate**k,
        pitch_st=pitch + row.pitch_st * k,
        pitch_range=row.pitch_range**k,
        gain_db=row.energy_db * k + vol_db,
        pause=row.pause**k,
        emotion_pitch_st=row.pitch_st * k,
        emotion_gain_db=row.energy_db * k,
    )


def without_cues(target: ProsodyTarget, keep: frozenset[str]) -> ProsodyTarget:
    """``target`` with the emotion's share of every cue not in ``keep`` taken out (explicit
    style rate, pitch and volume stay): for measuring each cue with and without."""
    changes: dict[str, float] = {}
    if "rate" not in keep:
        changes.update(rate=target.rate / target.emotion_rate, emotion_rate=1.0)
    if "pitch" not in keep:
        changes["pitch_st"] = target.pitch_st - target.emotion_pitch_st
    if "range" not in keep:
        changes["pitch_range"] = 1.0
    if "energy" not in keep:
        changes["gain_db"] = target.gain_db - target.emotion_gain_db
    if "pause" not in keep:
        changes["pause"] = 1.0
    return replace(target, **changes) if changes else target


def _psola(samples: np.ndarray, sr: int, target: ProsodyTarget, stretch: float) -> np.ndarray:
    """Pitch level/range and duration change with Praat's overlap-add resynthesis."""
    import parselmouth
    from parselmouth.praat import call

    with _praat_lock:  # Praat keeps global state; one manipulation at a time
        return _psola_locked(parselmouth, call, samples, sr, target, stretch)


def _psola_locked(parselmouth, call, samples, sr, target, stretch) -> np.ndarray:  # noqa: ANN001
    sound = parselmouth.Sound(samples.astype(np.float64), sampling_frequency=sr)
    manip = call(sound, "To Manipulation", PSOLA_TIME_STEP_S, PITCH_FLOOR_HZ, PITCH_CEILING_HZ)
    if target.needs_pitch:
        tier = call(manip, "Extract pitch tier")
        if call(tier, "Get number of points") > 0:
            # geometric centre of the speaker's f0, then f' = c·2^(s/12)·(f/c)^range
            ref = call(tier, "Get mean (points)", 0, 0)
            shift = 2 ** (target.pitch_st / 12)
            call(tier, "Formula", f"{ref * shift} * (self / {ref}) ^ {target.pitch_range}")
            call([tier, manip], "Replace pitch tier")
    if abs(stretch - 1.0) > 1e-3:
        dur = call("Create DurationTier", "dur", 0, sound.duration)
        call(dur, "Add point", 0, stretch)
        call([manip, dur], "Replace duration tier")
    # Praat fills unvoiced stretches with randomly placed pulses: seed its generator so a
    # text always renders to the same samples (cacheable, testable), then reseed it
    # unpredictably for any other Praat user in the process.
    from parselmouth.praat import run

    run(f"random_initializeWithSeedUnsafelyButPredictably ({PRAAT_SEED})")
    try:
        out = call(manip, "Get resynthesis (overlap-add)")
    finally:
        run("random_initializeSafelyAndUnpredictably ()")
    return np.asarray(out.values[0], dtype=np.float32)


def render(
    samples: np.ndarray, sample_rate: int, target: ProsodyTarget, style_rate_done: bool = True
) -> np.ndarray:
    """Apply ``target`` to one synthesized segment.

    ``style_rate_done``: the backend already rendered the explicit (style) part of the
    rate with its own speed control (Kokoro's ``speed`` input, good for large changes);
    the emotion's part is always a PSOLA duration change, because Kokoro's ``speed``
    moves the length in steps for small factors (its durations are whole frames: speed
    1.02 gives the same length as 1.0), whereas PSOLA stretches exactly. Returns float32
    samples.
    """
    out = samples.astype(np.float32, copy=False)
    stretch = 1.0 / (target.emotion_rate if style_rate_done else target.rate)
    if len(out) > sample_rate // 20 and (target.needs_pitch or abs(stretch - 1.0) > 1e-3):
        out = _psola(out, sample_rate, target, stretch)
    if abs(target.gain_db) > 1e-3:
        out = out * np.float32(10 ** (target.gain_db / 20))
    return soft_limit(out)


def soft_limit(samples: np.ndarray, knee: float = LIMIT_KNEE) -> np.ndarray:
    """Keep samples inside full scale: linear below ``knee``, tanh-compressed above it
    (loud emotions keep their energy instead of the whole segment being scaled down)."""
    mag = np.abs(samples)
    over = mag > knee
    if not over.any():
        return samples.astype(np.float32, copy=False)
    out = samples.astype(np.float32, copy=True)
    head = 1.0 - knee
    out[over] = np.sign(samples[over]) * (knee + head * np.tanh((mag[over] - knee) / head))
    return out
