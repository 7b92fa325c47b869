"""Speech-synthesis benchmark: RTF, first audio, round-trip CER per emotion, text normalisation.

    flock /work/bench.lock python -m benchmarks.tts [--sentences 100] [--voice V]
        [--compare-voices 30] [--out benchmarks/results/tts.md]

Figures:
- text-normalisation sentence accuracy on ../shared/eval/tts-text/textnorm_test_cases.txt;
- time to first audio of a 100-character text through ``stream()`` (cache off, median of 3);
- RTF (synthesis wall time / audio duration) of every synthesized sentence, per emotion,
  emotion rendering on;
- round-trip CER: each CSMSC test sentence synthesized (every emotion at intensity 1) and
  transcribed by the Whisper judge (benchmarks/tts_judge.py); plus the 15 sentences of
  sentences.txt (neutral);
- optionally the neutral CER of every voice on the first N CSMSC sentences (voice choice).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from pathlib import Path

from engine.config import load_config
from engine.emotions import Emotion
from engine.paths import shared_dir
from tts.base import Style


def _read_sentences(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out.append(parts[1])
    return out


def textnorm_accuracy(path: Path) -> tuple[int, int, list[str]]:
    """(correct, total, failures) on the ``raw|normalised`` cases."""
    from tts.textnorm import normalize

    ok, total, fails = 0, 0, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "|" not in line:
            continue
        raw, ref = line.split("|", 1)
        total += 1
        got = normalize(raw)
        if got == ref:
            ok += 1
        else:
            fails.append(f"{raw} → {got} (expected {ref})")
    return ok, total, fails


async def _first_audio(synth, text: str) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    async for _chunk in synth.stream(text, Style()):
        return time.perf_counter() - t0
    return float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=100, help="CSMSC sentences per emotion")
    ap.add_argument("--voice", default=None)
    ap.add_argument("--emotions", default=",".join(e.value for e in Emotion))
    ap.add_argument("--compare-voices", type=int, default=0, metavar="N")
    ap.add_argument("--out", default="benchmarks/results/tts.md")
    args = ap.parse_args(argv)

    from benchmarks.tts_judge import build_judge, corpus_cer
    from tts.factory import build_synthesizer

    config = load_config(overrides=["tts.cache.enabled=false"])
    eval_dir = shared_dir() / "eval" / "tts-text"
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    load_before = os.getloadavg()
    say("# TTS benchmark (kokoro)")
    say()
    say(
        f"Command: `flock /work/bench.lock python -m benchmarks.tts {' '.join(argv or [])}`".rstrip()
    )
    say(
        f"Machine: {platform.machine()} {os.cpu_count()}-core CPU, shared with other sessions; "
        f"load average at start {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}"
    )
    ok, total, fails = textnorm_accuracy(eval_dir / "textnorm_test_cases.txt")
    say()
    say(f"## Text normalisation: {ok}/{total} sentences exact = {100 * ok / total:.1f} %")
    for f in fails:
        say(f"- miss: {f}")

    t0 = time.perf_counter()
    synth = build_synthesizer(config, "kokoro")
    say()
    say(
        f"Model load + warm-up: {time.perf_counter() - t0:.2f} s; threads={config.tts.kokoro.threads}, "
        f"parallel_segments={config.tts.parallel_segments}"
    )
    voice = synth.resolve_voice(args.voice)

    text100 = "".join(_read_sentences(eval_dir / "csmsc_test.txt"))[:100]
    firsts = [asyncio.run(_first_audio(synth, text100)) for _ in range(3)]
    say()
    say(
        f"## Time to first audio (100-character text, stream): median {statistics.median(firsts):.3f} s "
        f"(runs: {', '.join(f'{x:.3f}' for x in firsts)})"
    )

    judge, judge_desc = build_judge(config)
    say()
    say(f"Judge: {judge_desc}")
    csmsc = _read_sentences(eval_dir / "csmsc_test.txt")[: args.sentences]
    emotions = [Emotion(e) for e in args.emotions.split(",") if e]

    def round_trip(texts: list[str], style: Style, v: str) -> tuple[float, float, float]:
        pairs, wall, dur = [], 0.0, 0.0
        for text in texts:
            t = time.perf_counter()
            audio = synth.synthesize(text, style, v)
            wall += time.perf_counter() - t
            dur += audio.duration
            pairs.append((text, judge(audio)))
        return corpus_cer(pairs), wall / dur, dur

    if args.compare_voices:
        say()
        say(f"## Voice choice: neutral CER on the first {args.compare_voices} CSMSC sentences")
        say("| voice | CER % |")
        say("|---|---|")
        for info in synth.voices():
            c, _, _ = round_trip(csmsc[: args.compare_voices], Style(), info.name)
            say(f"| {info.name} | {100 * c:.1f} |")

    say()
    say(f"## Round trip on {len(csmsc)} CSMSC test sentences, voice {voice}, intensity 1")
    say("| emotion | CER % | Δ vs neutral | RTF | audio s |")
    say("|---|---|---|---|---|")
    results = {}
    for emotion in emotions:
        c, rtf, dur = round_trip(csmsc, Style(emotion=emotion, intensity=1.0), voice)
        results[emotion] = c
        delta = 100 * (c - results.get(Emotion.NEUTRAL, c))
        say(f"| {emotion} | {100 * c:.1f} | {delta:+.1f} | {rtf:.3f} | {dur:.0f} |")
    demo = _read_sentences(eval_dir / "sentences.txt")
    c, rtf, dur = round_trip(demo, Style(), voice)
    say()
    say(f"## sentences.txt ({len(demo)} sentences, neutral): CER {100 * c:.1f} %, RTF {rtf:.3f}")
    load_after = os.getloadavg()
    say()
    say(
        f"Load average at end {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}. "
        "CER normalisation: NFKC, OpenCC t2s, punctuation/whitespace removed (jiwer, corpus level)."
    )
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
