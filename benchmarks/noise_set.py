"""A shareable robustness test set, generated at run time (no audio is committed).

* **speech in noise**: every ../shared/eval/asr-dev clip mixed with generated noise at
  20 / 10 / 5 / 0 dB SNR (white and pink noise; SNR over the whole clip's power);
* **non-speech**: silence, white / pink / brown noise at several levels, pure tones, a sweep,
  DTMF-like dual tones, clicks, and music-like signals (harmonic notes of a melody with
  envelopes, chords, a beat) — nothing a recognizer should write words for.

Everything is deterministic (fixed seeds) so the set is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

SR = 16000  # Hz
SNRS_DB = (20, 10, 5, 0)
NOISES = ("white", "pink")


@dataclass(frozen=True)
class Item:
    """One generated input: ``kind`` is ``speech`` (with its reference) or ``nonspeech``."""

    name: str
    kind: str
    samples: np.ndarray
    reference: str = ""
    noise: str = ""
    snr_db: float | None = None


def colored_noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: white (flat), pink (1/f power), brown (1/f² power)."""
    white = rng.standard_normal(n)
    if color == "white":
        out = white
    else:
        spec = np.fft.rfft(white)
        f = np.fft.rfftfreq(n, 1 / SR)
        f[0] = f[1]
        spec /= np.sqrt(f) if color == "pink" else f
        out = np.fft.irfft(spec, n)
    out = out - out.mean()
    return (out / (np.sqrt(np.mean(out**2)) + 1e-12)).astype(np.float32)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``speech`` plus ``noise`` scaled to ``snr_db`` (power ratio over the whole clip)."""
    ps = float(np.mean(speech**2))
    pn = float(np.mean(noise**2)) + 1e-12
    scale = np.sqrt(ps / (pn * 10 ** (snr_db / 10)))
    mixed = speech + scale * noise[: len(speech)]
    peak = float(np.abs(mixed).max())
    return (mixed / peak * 0.9 if peak > 0.99 else mixed).astype(np.float32)


def _envelope(n: int, attack: float = 0.01, release: float = 0.1) -> np.ndarray:
    env = np.ones(n, np.float32)
    a, r = int(attack * SR), int(release * SR)
    env[:a] = np.linspace(0, 1, a)
    env[n - r :] *= np.linspace(1, 0, r)
    return env


def _note(freq: float, dur: float, harmonics: int = 6) -> np.ndarray:
    t = np.arange(int(dur * SR)) / SR
    wave = sum(np.sin(2 * np.pi * freq * k * t) / k for k in range(1, harmonics + 1))
    return (wave * _envelope(len(t), 0.02, dur * 0.5)).astype(np.float32)


def _melody(rng: np.random.Generator, dur: float, tempo: float) -> np.ndarray:
    scale = 261.63 * 2 ** (np.array([0, 2, 4, 5, 7, 9, 11, 12]) / 12)
    notes = [_note(float(rng.choice(scale)), 60 / tempo) for _ in range(int(dur * tempo / 60))]
    return np.concatenate(notes)


def _chords(dur: float) -> np.ndarray:
    roots = (220.0, 174.61, 261.63, 196.0)  # A F C G
    per = dur / len(roots)
    parts = [sum(_note(r * m, per, 4) for m in (1, 2 ** (4 / 12), 2 ** (7 / 12))) for r in roots]
    return np.concatenate(parts)


def _beat(rng: np.random.Generator, dur: float, bpm: float = 120) -> np.ndarray:
    out = np.zeros(int(dur * SR), np.float32)
    step = int(60 / bpm * SR / 2)
    t = np.arange(int(0.12 * SR)) / SR
    kick = np.sin(2 * np.pi * 60 * t * (1 + 2 * np.exp(-t * 30))) * np.exp(-t * 25)
    hat = rng.standard_normal(int(0.03 * SR)) * np.exp(-np.arange(int(0.03 * SR)) / 80)
    for i, pos in enumerate(range(0, len(out) - len(kick), step)):
        sound = kick if i % 2 == 0 else 0.3 * hat
        out[pos : pos + len(sound)] += sound.astype(np.float32)
    return out


def _normalise(x: np.ndarray, rms_dbfs: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2))) + 1e-12
    y = x * (10 ** (rms_dbfs / 20) / rms)
    peak = float(np.abs(y).max())
    return (y / peak * 0.95 if peak > 0.95 else y).astype(np.float32)


def nonspeech_items(seed: int = 7, dur: float = 4.0) -> list[Item]:
    """Silence, noises, tones and music-like signals (4 s each, 16 kHz)."""
    rng = np.random.default_rng(seed)
    n = int(dur * SR)
    t = np.arange(n) / SR
    signals: dict[str, np.ndarray] = {"silence": np.zeros(n, np.float32)}
    signals["dither_-70dBFS"] = _normalise(colored_noise(n, "white", rng), -70)
    for color in ("white", "pink", "brown"):
        for level in (-40, -25, -12):
            signals[f"{color}_noise_{level}dBFS"] = _normalise(colored_noise(n, color, rng), level)
    for freq in (100, 440, 1000, 3000):
        signals[f"tone_{freq}Hz"] = _normalise(np.sin(2 * np.pi * freq * t), -15)
    sweep = np.sin(2 * np.pi * (100 * t + (4000 - 100) / (2 * dur) * t**2))
    signals["sweep_100-4000Hz"] = _normalise(sweep, -15)
    dtmf = np.zeros(n)
    for k, (lo, hi) in enumerate([(697, 1209), (770, 1336), (852, 1477), (941, 1336)] * 2):
        s = int(k * 0.5 * SR)
        seg = t[: int(0.3 * SR)]
        dtmf[s : s + len(seg)] = np.sin(2 * np.pi * lo * seg) + np.sin(2 * np.pi * hi * seg)
    signals["dtmf_digits"] = _normalise(dtmf, -18)
    clicks = np.zeros(n)
    clicks[:: int(0.25 * SR)] = 1.0
    signals["clicks_4Hz"] = _normalise(clicks, -30)
    signals["melody_slow"] = _normalise(_melody(rng, dur, 90)[:n], -18)
    signals["melody_fast"] = _normalise(_melody(rng, dur, 200)[:n], -18)
    signals["chords"] = _normalise(_chords(dur)[:n], -18)
    signals["beat_120bpm"] = _normalise(_beat(rng, dur), -18)
    mix = _melody(rng, dur, 140)[:n]
    mix = mix[: min(len(mix), n)]
    music = _beat(rng, dur)
    music[: len(mix)] += 0.6 * mix
    signals["music_melody_beat"] = _normalise(music, -18)
    signals["music_plus_pink"] = _normalise(music + 0.3 * colored_noise(n, "pink", rng), -18)
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in range(1, 8))
    signals["mains_hum_50Hz"] = _normalise(hum, -25)
    return [
        Item(name, "nonspeech", np.pad(x, (0, max(0, n - len(x))))[:n])
        for name, x in signals.items()
    ]


def speech_in_noise(clips: list[tuple[str, str, np.ndarray]], seed: int = 11) -> Iterator[Item]:
    """Every (name, reference, 16 kHz samples) clip at every SNR for every noise colour."""
    rng = np.random.default_rng(seed)
    for name, ref, samples in clips:
        for color in NOISES:
            noise = colored_noise(len(samples), color, rng)
            for snr in SNRS_DB:
                yield Item(
                    f"{name}|{color}|{snr}dB",
                    "speech",
                    mix_at_snr(samples, noise, snr),
                    ref,
                    color,
                    snr,
                )
