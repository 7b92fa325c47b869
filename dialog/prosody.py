"""Acoustic (prosodic) features of one utterance for the bridge's speech encoder.

A fixed-length vector of utterance statistics, the classic emotion cue set (Banse &
Scherer 1996; Schuller et al. 2009, *The INTERSPEECH 2009 Emotion Challenge*; the eGeMAPS
set of Eyben et al. 2016 motivates the choice): f0 contour statistics in semitones,
intensity statistics, speaking rate (intensity-peak syllable nuclei, after De Jong &
Wempe 2009, and the text's characters per second when the text is known), pauses,
voice quality (jitter, shimmer, harmonics-to-noise ratio) and spectral balance.
Measured with Praat through praat-parselmouth; audio is resampled to 16 kHz first.
"""

from __future__ import annotations

import math

import numpy as np

from tingshuo.core.audio import Audio

SAMPLE_RATE = 16000  # Hz, features are computed at this rate
F0_MIN, F0_MAX = 75.0, 600.0  # Hz, pitch search range (covers male and female voices)
TIME_STEP = 0.01  # s, 10 ms analysis hop
MIN_DURATION = 0.1  # s, shorter input has no meaningful prosody

FEATURE_NAMES: tuple[str, ...] = (
    "duration_s",
    "voiced_fraction",
    "f0_mean_st",
    "f0_std_st",
    "f0_p05_st",
    "f0_p50_st",
    "f0_p95_st",
    "f0_range_st",
    "f0_slope_st_per_s",
    "f0_velocity_st_per_s",
    "intensity_mean_db",
    "intensity_std_db",
    "intensity_p95_db",
    "intensity_range_db",
    "intensity_slope_db_per_s",
    "rms_db",
    "pause_fraction",
    "syllable_rate_per_s",
    "text_rate_chars_per_s",
    "jitter_local",
    "shimmer_local",
    "hnr_mean_db",
    "spectral_centroid_khz",
    "low_high_band_ratio_db",
)
PROSODY_DIM = len(FEATURE_NAMES)


class AudioTooShortError(ValueError):
    """Audio too short (or silent) to measure prosody."""


def _semitones(hz: np.ndarray) -> np.ndarray:
    return 12.0 * np.log2(hz / 100.0)  # re 100 Hz


def _slope(t: np.ndarray, y: np.ndarray) -> float:
    if len(y) < 3 or float(np.ptp(t)) == 0.0:
        return 0.0
    return float(np.polyfit(t, y, 1)[0])


def _syllable_nuclei(intensity_db: np.ndarray, voiced: np.ndarray) -> int:
    """Count intensity peaks that rise 2 dB above their neighbourhood dips in voiced frames."""
    if len(intensity_db) < 3:
        return 0
    floor = np.percentile(intensity_db, 90) - 25.0
    count, last_min, rising = 0, intensity_db[0], False
    for i in range(1, len(intensity_db) - 1):
        v = intensity_db[i]
        last_min = min(last_min, v)
        is_peak = v >= intensity_db[i - 1] and v > intensity_db[i + 1]
        if is_peak and v > floor and v - last_min >= 2.0 and voiced[i]:
            count += 1
            last_min = v
            rising = True
        elif rising and v < last_min:
            last_min = v
    return count


def prosodic_features(audio: Audio, text: str | None = None) -> np.ndarray:
    """The :data:`FEATURE_NAMES` vector (float32) of one utterance.

    Raises :class:`AudioTooShortError` for audio shorter than 0.1 s or without any signal.
    """
    import parselmouth  # lazy: Praat is only needed when audio is analysed

    audio = audio.resample(SAMPLE_RATE) if audio.sample_rate != SAMPLE_RATE else audio
    samples = np.asarray(audio.samples, dtype=np.float64)
    duration = len(samples) / SAMPLE_RATE
    if duration < MIN_DURATION or not np.any(np.abs(samples) > 1e-4):
        raise AudioTooShortError(f"audio of {duration:.3f} s has no measurable prosody")
    snd = parselmouth.Sound(samples, sampling_frequency=SAMPLE_RATE)

    pitch = snd.to_pitch_ac(time_step=TIME_STEP, pitch_floor=F0_MIN, pitch_ceiling=F0_MAX)
    f0 = pitch.selected_array["frequency"]
    times = pitch.xs()
    voiced = f0 > 0
    if voiced.sum() >= 2:
        st = _semitones(f0[voiced])
        tv = times[voiced]
        f0_stats = [
            float(st.mean()),
            float(st.std()),
            *[float(v) for v in np.percentile(st, [5, 50, 95])],
        ]
        f0_stats.append(f0_stats[4] - f0_stats[2])
        f0_stats.append(_slope(tv, st))
        dt = np.diff(tv)
        ok = dt < 2.5 * TIME_STEP  # velocity only inside voiced stretches
        f0_stats.append(float(np.mean(np.abs(np.diff(st)[ok]) / dt[ok])) if ok.any() else 0.0)
    else:
        f0_stats = [0.0] * 8

    intensity = snd.to_intensity(minimum_pitch=F0_MIN, time_step=TIME_STEP)
    idb = intensity.values[0]
    itimes = intensity.xs()
    if len(idb) < 2:
        raise AudioTooShortError(f"audio of {duration:.3f} s has no measurable intensity")
    voiced_at_i = (
        np.interp(itimes, times, voiced.astype(float)) > 0.5
        if len(times)
        else np.zeros(len(idb), bool)
    )
    p95 = float(np.percentile(idb, 95))
    speech = idb > p95 - 25.0
    speech_time = max(float(speech.sum()) * TIME_STEP, MIN_DURATION)
    nuclei = _syllable_nuclei(idb, voiced_at_i)
    hanzi = sum(1 for c in (text or "") if "\u4e00" <= c <= "\u9fff" or c.isalnum())
    rms = float(np.sqrt(np.mean(samples**2)))

    point_process = parselmouth.praat.call(snd, "To PointProcess (periodic, cc)", F0_MIN, F0_MAX)
    jitter = parselmouth.praat.call(point_process, "Get jitter (local)", 0, 0, 0.0001, 0.02, 1.3)
    shimmer = parselmouth.praat.call(
        [snd, point_process], "Get shimmer (local)", 0, 0, 0.0001, 0.02, 1.3, 1.6
    )
    harmonicity = snd.to_harmonicity_cc(time_step=TIME_STEP, minimum_pitch=F0_MIN)
    hnr_values = harmonicity.values[0]
    hnr_values = hnr_values[hnr_values > -200]

    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1.0 / SAMPLE_RATE)
    total = float(spectrum.sum()) + 1e-12
    centroid = float((freqs * spectrum).sum() / total) / 1000.0
    low = float(spectrum[freqs < 1000].sum()) + 1e-12
    high = float(spectrum[freqs >= 1000].sum()) + 1e-12

    values = [
        duration,
        float(voiced.mean()) if len(voiced) else 0.0,
        *f0_stats,
        float(idb.mean()),
        float(idb.std()),
        p95,
        p95 - float(np.percentile(idb, 5)),
        _slope(itimes, idb),
        20.0 * math.log10(rms + 1e-9),
        1.0 - float(speech.mean()),
        nuclei / speech_time,
        hanzi / speech_time if hanzi else nuclei / speech_time,
        float(jitter) if math.isfinite(jitter) else 0.0,
        float(shimmer) if math.isfinite(shimmer) else 0.0,
        float(hnr_values.mean()) if len(hnr_values) else 0.0,
        centroid,
        10.0 * math.log10(low / high),
    ]
    return np.asarray(values, dtype=np.float32)
