"""Emotion prosody benchmark: the cues each emotion actually produces, against neutral.

    python -m benchmarks.tts_prosody [--sentences 20] [--voice V] [--set KEY=VALUE]
        [--out benchmarks/results/tts_prosody.md]

For each of the first N CSMSC test sentences, every emotion (intensity 1) is synthesized
with the chosen voice and measured with Praat (parselmouth) on the speech frames:

- f0 level: median f0 in semitones re 100 Hz; f0 range: 90th − 10th percentile (semitones);
- speaking rate: neutral speech time / this emotion's speech time (>1 = faster; pauses
  between segments excluded — frames above 10 % of the loudest frame's RMS count as speech);
- energy: RMS level of the speech frames in dB.

Each cell is the mean over the sentences of the per-sentence difference to neutral (ratio
for the rate), beside the table's target (tts.prosody.EMOTION_PROSODY). With
``--speech-chain``, the trained emotion bridge's speech branch (on the recognizer's encoder
pass, all clips of the voice normalised as one speaker) classifies each rendered clip and the
share recognised as the intended emotion is reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

import numpy as np

SEMITONE_REF_HZ = 100.0
FRAME_S = 0.01  # 10 ms analysis frames
ACTIVE_FRACTION = 0.1  # of the loudest frame's RMS


def measure(samples: np.ndarray, sr: int) -> dict[str, float]:
    """f0 level/range (semitones), energy (dB) and speech time (s) of one clip."""
    import parselmouth

    snd = parselmouth.Sound(samples.astype(np.float64), sr)
    pitch = snd.to_pitch(time_step=FRAME_S, pitch_floor=75, pitch_ceiling=600)
    f0 = pitch.selected_array["frequency"]
    st = 12 * np.log2(f0[f0 > 0] / SEMITONE_REF_HZ)
    frame = int(sr * FRAME_S)
    n = len(samples) // frame
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    active = rms > ACTIVE_FRACTION * np.max(rms)
    return {
        "f0_level": float(np.median(st)) if len(st) else float("nan"),
        "f0_range": float(np.percentile(st, 90) - np.percentile(st, 10)) if len(st) else 0.0,
        "energy": float(20 * np.log10(np.sqrt(np.mean(rms[active] ** 2)))),
        "speech_s": float(active.sum() * FRAME_S),
    }


def _texts(n: int) -> list[str]:
    from tingshuo.core.paths import shared_dir

    path = shared_dir() / "eval" / "tts-text" / "csmsc_test.txt"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out.append(parts[1])
    return out[:n]


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark, print and write the markdown report."""
    from tingshuo.core.emotions import EMOTIONS, Emotion
    from tingshuo.engine.config import cache_root, load_config
    from tingshuo.tts.base import Style
    from tingshuo.tts.factory import build_synthesizer
    from tingshuo.tts.prosody import EMOTION_PROSODY

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=10)
    ap.add_argument("--voice", default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument(
        "--speech-chain",
        action="store_true",
        help="also classify every clip with the emotion bridge's speech branch",
    )
    ap.add_argument("--out", default="benchmarks/results/tts_prosody.md")
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)

    config = load_config(overrides=["tts.cache.enabled=false", *args.overrides])
    synth = build_synthesizer(config.tts, cache_root(config), "kokoro")
    voice = synth.resolve_voice(args.voice)  # type: ignore[attr-defined]
    texts = _texts(args.sentences)
    chain = None
    if args.speech_chain:
        from tingshuo.asr.factory import build_recognizer
        from tingshuo.dialog.factory import build_bridge

        bridge = build_bridge(config.dialog)
        recognizer = build_recognizer(config.asr, cache_root(config), "whisper")
        chain = []  # (intended emotion, speech features) of every clip

    emotions = list(Emotion)
    cues: dict[Emotion, list[dict[str, float]]] = {e: [] for e in emotions}
    hits: dict[Emotion, list[Emotion]] = {e: [] for e in emotions}
    for text in texts:
        for emotion in emotions:
            audio = synth.synthesize(text, Style(emotion=emotion, intensity=1.0), voice)
            cues[emotion].append(measure(audio.samples, audio.sample_rate))
            if chain is not None:
                # the engine's path: one recognizer pass gives the encoder states
                heard = recognizer.transcribe(audio.resample(16000))
                chain.append((emotion, bridge.measure(audio, heard.encoder)))
    if chain is not None:
        # every clip is the same (synthetic) speaker: normalise against all of them, as
        # `tingshuo emotion --same-speaker` does for one person's recordings
        speaker = bridge.new_speaker()
        for _, feats in chain:
            speaker.add(feats)
        for emotion, feats in chain:
            hits[emotion].append(EMOTIONS[int(bridge.speech_log_probs(feats, speaker).argmax())])
    neutral = cues[Emotion.NEUTRAL]

    def delta(e: Emotion, key: str) -> float:
        return statistics.fmean(a[key] - b[key] for a, b in zip(cues[e], neutral, strict=True))

    def rate(e: Emotion) -> float:
        return statistics.fmean(
            b["speech_s"] / a["speech_s"] for a, b in zip(cues[e], neutral, strict=True)
        )

    def mean(key: str) -> float:
        return statistics.fmean(c[key] for c in neutral)

    kc = config.tts.kokoro
    lines = [
        "# Emotion prosody produced (kokoro)",
        "",
        f"Command: `python -m benchmarks.tts_prosody {' '.join(argv)}`".rstrip(),
        "",
        f"Voice {voice}, speed {kc.speed}, tone_range {kc.tone_range}; the first {len(texts)} "
        f"CSMSC test sentences, intensity 1; load average {os.getloadavg()[0]:.2f}. Neutral: "
        f"f0 level {mean('f0_level'):.1f} st re 100 Hz, f0 range (p90 − p10) "
        f"{mean('f0_range'):.1f} st, speech-frame energy {mean('energy'):.1f} dBFS. Cells: "
        "mean per-sentence difference to neutral (rate: ratio of speech time, >1 = faster); "
        "in brackets the table's target (tts/prosody.py).",
        "",
    ]
    header = "| emotion | f0 level Δ st | f0 range Δ st | rate × | energy Δ dB |"
    sep = "|---|---|---|---|---|"
    if chain is not None:
        header += " speech branch: recognised as intended |"
        sep += "---|"
    lines += [header, sep]
    for e in emotions:
        row = EMOTION_PROSODY[e]
        cells = (
            f"| {e} | {delta(e, 'f0_level'):+.2f} ({row.pitch_st:+.1f}) "
            f"| {delta(e, 'f0_range'):+.2f} (range ×{row.pitch_range:.2f}) "
            f"| {rate(e):.3f} ({row.rate:.2f}) | {delta(e, 'energy'):+.2f} ({row.energy_db:+.1f}) |"
        )
        if chain is not None:
            got = hits[e]
            share = sum(g is e for g in got) / len(got)
            common = max(set(got), key=got.count)
            cells += f" {100 * share:.0f} % (most often: {common}) |"
        lines.append(cells)
    if chain is not None:
        total = sum(sum(g is e for g in hits[e]) for e in emotions)
        n = sum(len(hits[e]) for e in emotions)
        lines += [
            "",
            f"Speech-chain recognition overall: {total}/{n} = {100 * total / n:.0f} % "
            "(chance 14 %).",
        ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
