"""Speech-synthesis benchmark: RTF, first audio, round-trip CER per emotion, text normalisation.

    flock /work/bench.lock python -m benchmarks.tts [--sentences 100] [--voice V]
        [--compare-voices 30] [--out benchmarks/results/tts.md]

Figures:
- text-normalisation sentence accuracy on ../shared/eval/tts-text/textnorm_test_cases.txt;
- time to first audio of a 100-character text through ``stream()`` (cache off, median of 3);
- RTF (synthesis wall time / audio duration; also process CPU time / audio duration,
  which is less sensitive to other load on a shared machine) of every synthesized
  sentence, per emotion, emotion rendering on;
- round-trip CER: each CSMSC test sentence synthesized (every emotion at intensity 1) and
  transcribed by the Whisper judge (benchmarks/tts_judge.py); plus the 15 sentences of
  sentences.txt (neutral);
- optionally the neutral CER of every voice on the first N CSMSC sentences (voice choice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from tingshuo.core.emotions import Emotion
from tingshuo.core.paths import shared_dir
from tingshuo.engine.config import cache_root, load_config
from tingshuo.tts.base import Style


def _load_jsonl(path: Path) -> dict[str, dict]:
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        out[rec["key"]] = rec
    return out


def _read_sentences(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out.append(parts[1])
    return out


def textnorm_accuracy(path: Path) -> tuple[int, int, list[str]]:
    """(correct, total, failures) on the ``raw|normalised`` cases."""
    from tingshuo.tts.textnorm import normalize

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


async def _first_audio(synth, text: str) -> tuple[float, float]:  # noqa: ANN001
    """(wall seconds, process CPU seconds) until the first chunk arrives."""
    t0, c0 = time.perf_counter(), time.process_time()
    async for _chunk in synth.stream(text, Style()):
        return time.perf_counter() - t0, time.process_time() - c0
    return float("nan"), float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=100, help="CSMSC sentences per emotion")
    ap.add_argument("--voice", default=None)
    ap.add_argument("--emotions", default=",".join(e.value for e in Emotion))
    ap.add_argument(
        "--emotion-sentences",
        type=int,
        default=0,
        metavar="N",
        help="run emotions other than neutral on the first N sentences only (0: all); "
        "neutral on the same N is reported beside them",
    )
    ap.add_argument(
        "--judge",
        choices=("auto", "asr", "direct"),
        default="auto",
        help="Whisper through asr.factory, or faster-whisper directly (same settings)",
    )
    ap.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. tts.kokoro.speed=0.9 (repeatable)",
    )
    ap.add_argument(
        "--rtf-only",
        type=int,
        default=0,
        metavar="N",
        help="only measure RTF afresh on the first N CSMSC sentences per emotion (no judge)",
    )
    ap.add_argument("--skip-first-audio", action="store_true")
    ap.add_argument("--skip-demo", action="store_true", help="skip sentences.txt")
    ap.add_argument("--compare-voices", type=int, default=0, metavar="N")
    ap.add_argument(
        "--compare-languages",
        default="zh",
        help="languages of the voices compared by --compare-voices (comma-separated; "
        "zh: the native Mandarin voices, ja: the Japanese ones)",
    )
    ap.add_argument("--out", default="benchmarks/results/tts.md")
    ap.add_argument(
        "--jsonl",
        default="/tmp/tingshuo-tts-bench.jsonl",
        help="per-sentence results; a rerun skips what is already there (empty: off)",
    )
    argv = sys.argv[1:] if argv is None else argv
    args = ap.parse_args(argv)

    from benchmarks.tts_judge import build_judge, corpus_cer
    from tingshuo.tts.factory import build_synthesizer

    config = load_config(overrides=["tts.cache.enabled=false", *args.overrides])
    eval_dir = shared_dir() / "eval" / "tts-text"
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)
        if args.out:  # rewritten as we go: a long run leaves its figures so far
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text("\n".join(lines) + "\n", encoding="utf-8")

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
    synth = build_synthesizer(config.tts, cache_root(config), "kokoro")
    say()
    say(
        f"Model load + warm-up: {time.perf_counter() - t0:.2f} s; threads={config.tts.kokoro.threads}, "
        f"parallel_segments={config.tts.parallel_segments}, speed={config.tts.kokoro.speed}, "
        f"tone_range={config.tts.kokoro.tone_range}"
    )
    voice = synth.resolve_voice(args.voice)

    text100 = "".join(_read_sentences(eval_dir / "csmsc_test.txt"))[:100]
    if not args.skip_first_audio:
        runs = [asyncio.run(_first_audio(synth, text100)) for _ in range(5)]
        firsts, cpus = [w for w, _ in runs], [c for _, c in runs]
        say()
        say(
            f"## Time to first audio (100-character text, stream): median "
            f"{statistics.median(firsts):.3f} s wall, {statistics.median(cpus):.3f} s process CPU "
            f"time (wall runs: {', '.join(f'{x:.3f}' for x in firsts)}; load "
            f"{os.getloadavg()[0]:.2f}); first segment {synth.plan(text100, streaming=True)[0].text!r}"
        )

    if args.rtf_only:
        texts = _read_sentences(eval_dir / "csmsc_test.txt")[: args.rtf_only]
        say()
        say(
            f"## RTF on the first {len(texts)} CSMSC sentences (fresh synthesis, emotion rendering on)"
        )
        say("| emotion | RTF (wall) | RTF (CPU time) | audio s | load (1 min) |")
        say("|---|---|---|---|---|")
        for emotion in [Emotion(e) for e in args.emotions.split(",") if e]:
            wall = cpu = dur = 0.0
            for text in texts:
                t, c = time.perf_counter(), time.process_time()
                audio = synth.synthesize(text, Style(emotion=emotion, intensity=1.0), voice)
                wall += time.perf_counter() - t
                cpu += time.process_time() - c
                dur += audio.duration
            say(
                f"| {emotion} | {wall / dur:.3f} | {cpu / dur:.3f} | {dur:.0f} "
                f"| {os.getloadavg()[0]:.2f} |"
            )
        return

    judge, judge_desc = build_judge(config, args.judge)
    say()
    say(f"Judge: {judge_desc}")
    csmsc = _read_sentences(eval_dir / "csmsc_test.txt")[: args.sentences]
    emotions = [Emotion(e) for e in args.emotions.split(",") if e]

    done = _load_jsonl(Path(args.jsonl)) if args.jsonl else {}

    def round_trip(
        texts: list[str], style: Style, v: str, tag: str
    ) -> tuple[float, float, float, float]:
        """Corpus CER, wall RTF, CPU RTF, audio seconds over ``texts`` (resumable)."""
        pairs, wall, cpu, dur = [], 0.0, 0.0, 0.0
        for i, text in enumerate(texts):
            # the rendering settings (speed, tone range) are part of the key: a rerun under
            # other settings computes afresh instead of reusing stale rows
            key = f"{tag}|{synth.model_version}|{v}|{style.emotion}|{style.intensity}|{i}|{text}"
            if key not in done:
                t, c = time.perf_counter(), time.process_time()
                audio = synth.synthesize(text, style, v)
                rec = {
                    "key": key,
                    "wall": time.perf_counter() - t,
                    "cpu": time.process_time() - c,
                    "dur": audio.duration,
                    "hyp": judge(audio),
                    "load": os.getloadavg()[0],
                }
                done[key] = rec
                print(f"  {tag} {style.emotion} {i + 1}/{len(texts)}: {rec['hyp']}", flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a", encoding="utf-8") as sink:
                        sink.write(json.dumps(rec, ensure_ascii=False) + "\n")
            rec = done[key]
            wall, cpu, dur = wall + rec["wall"], cpu + rec["cpu"], dur + rec["dur"]
            pairs.append((text, rec["hyp"]))
        return corpus_cer(pairs), wall / dur, cpu / dur, dur

    say()
    say(f"## Round trip on {len(csmsc)} CSMSC test sentences, voice {voice}, intensity 1")
    say("| emotion | CER % | RTF (wall) | RTF (CPU time) | audio s |")
    say("|---|---|---|---|---|")
    results = {}
    n_emo = args.emotion_sentences or len(csmsc)
    for emotion in emotions:
        texts = csmsc if emotion is Emotion.NEUTRAL else csmsc[:n_emo]
        c, rtf, cpu_rtf, dur = round_trip(
            texts, Style(emotion=emotion, intensity=1.0), voice, "csmsc"
        )
        results[emotion] = c
        say(
            f"| {emotion} ({len(texts)} sentences) | {100 * c:.1f} | {rtf:.3f} | {cpu_rtf:.3f} "
            f"| {dur:.0f} |"
        )
    if n_emo < len(csmsc) and Emotion.NEUTRAL in emotions:
        say()
        say(f"### Emotions against neutral on the same first {n_emo} sentences")
        say("| emotion | CER % | Δ vs neutral (points) |")
        say("|---|---|---|")
        sub = {
            e: round_trip(csmsc[:n_emo], Style(emotion=e, intensity=1.0), voice, "csmsc")[0]
            for e in emotions
        }
        for e, c in sub.items():
            say(f"| {e} | {100 * c:.1f} | {100 * (c - sub[Emotion.NEUTRAL]):+.1f} |")
    else:
        say()
        say("| emotion | Δ CER vs neutral (points) |")
        say("|---|---|")
        for e, c in results.items():
            say(f"| {e} | {100 * (c - results.get(Emotion.NEUTRAL, c)):+.1f} |")
    if not args.skip_demo:
        demo = _read_sentences(eval_dir / "sentences.txt")
        c, rtf, cpu_rtf, dur = round_trip(demo, Style(), voice, "demo")
        say()
        say(
            f"## sentences.txt ({len(demo)} sentences, neutral): CER {100 * c:.1f} %, "
            f"RTF {rtf:.3f} (CPU time {cpu_rtf:.3f})"
        )
    if args.compare_voices:
        say()
        say(f"## Voice choice: neutral CER on the first {args.compare_voices} CSMSC sentences")
        say("| voice | CER % | RTF (wall) | RTF (CPU time) |")
        say("|---|---|---|---|")
        languages = set(args.compare_languages.split(","))
        for info in synth.voices():
            if info.language not in languages:
                continue
            c, rtf, cpu_rtf, _ = round_trip(
                csmsc[: args.compare_voices], Style(), info.name, "csmsc"
            )
            say(
                f"| {info.name} ({info.language}, {info.gender or '?'}) | {100 * c:.1f} "
                f"| {rtf:.3f} | {cpu_rtf:.3f} |"
            )

    load_after = os.getloadavg()
    say()
    say(
        f"Load average at end {load_after[0]:.2f} / {load_after[1]:.2f} / {load_after[2]:.2f}. "
        "CER normalisation (reference and hypothesis alike): NFKC, OpenCC t2s, numbers spelled "
        "out by tts.textnorm, punctuation/whitespace removed; jiwer, corpus level."
    )


if __name__ == "__main__":
    main()
