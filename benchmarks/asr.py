"""ASR benchmark: CER and RTF per backend on ../shared/eval/asr-dev, plus streaming latency.

    flock /work/bench.lock python -m benchmarks.asr [--backend whisper] [--set k=v ...]
        [--stream-profile dialogue|transcription] [--speed ROUNDS] [--out benchmarks/results/asr.md]
        [--corpus asr-dev|casia-2spk] [--every N]

``--corpus casia-2spk``: the 600 acted single-sentence clips of two CASIA speakers (1–5 s, the
same 50 texts in six emotions; ../shared/eval/README.md) as a larger second set, e.g.
``--every 4`` for 150 clips.

CER: corpus CER (jiwer) over all clips — of ``transcribe`` (offline path: CLI, HTTP, jobs) and,
with streaming on, of the streams' finals — ``dialogue`` profile (``/v1/dialog``) and
``transcription`` profile (``/v1/asr`` online/2pass) — on text normalised as ../shared/eval/README.md says
(NFKC, Traditional→Simplified, punctuation and spaces removed). RTF: wall-clock recognition
time / audio duration (model load excluded, audio already in memory).

Streaming: each clip is padded with 1.5 s of silence on both sides and fed in 20 ms frames
against a virtual clock — audio arrives in real time, one worker runs ``decode`` whenever the
stream is ready and the clock advances by the decode's wall time. Reported per backend:
* end-of-speech → final: clock when the final is out − end of the last voiced frame
  (includes the VAD hangover, ``asr.endpoint.min_silence_ms``);
* partial lag: clock when a partial is out − stream time of the newest audio it covers.
The same run also keeps a second clock advanced by each decode's process CPU time divided by
the recognizer's thread count: an estimate of the figures on an otherwise idle machine
(the shared machine's wall times include waiting for other jobs).

``--speed ROUNDS``: RTF and CPU-s per audio-s of each entry point's recognizer calls (one file
per call, files batched, each stream profile), interleaved rounds; nothing else is run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tingshuo.asr.base import FinalResult, PartialResult
from tingshuo.asr.config import STREAM_PROFILES
from tingshuo.asr.factory import build_recognizer
from tingshuo.asr.textproc import character_error_rate
from tingshuo.core.audio import Audio, read_audio
from tingshuo.core.errors import ModelNotFoundError
from tingshuo.core.paths import shared_dir
from tingshuo.engine.config import EngineConfig, cache_root, load_config, recognizer_config

FRAME_S = 0.02
PAD_S = 1.5


@dataclass
class OfflineFigures:
    cer: float
    rtf: float
    cpu_rtf: float
    audio_s: float
    load_s: float
    rows: list[tuple[str, str, str]]


@dataclass
class StreamFigures:
    final_latency: list[float]
    final_latency_idle: list[float]
    final_decode: list[float]
    partial_lag: list[float]
    partial_lag_idle: list[float]
    utterances: int
    clips: int
    partials: int
    cer: float  # the finals of each clip joined, against its reference


# corpora under ../shared/eval with references (README there: what, labels, licence)
CORPORA = {"asr-dev": "asr-dev", "casia-2spk": "emotion-speech/casia-2spk"}


def load_clips(root: Path, every: int = 1) -> list[tuple[str, str, Audio]]:
    """(file, reference, audio) of a corpus folder: ``transcripts.tsv`` (asr-dev) or
    ``labels.tsv`` (CASIA: file, transcript, …), every ``every``-th row."""
    table = root / "transcripts.tsv"
    if not table.exists():
        table = root / "labels.tsv"
    with table.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))[:: max(1, every)]
    return [(r["file"], r["transcript"], read_audio(root / "wav" / r["file"])) for r in rows]


def offline(recognizer, clips, load_s: float) -> OfflineFigures:
    refs, hyps, rows = [], [], []
    wall = cpu = audio_s = 0.0
    recognizer.transcribe(clips[0][2])  # warm-up (first call allocates buffers)
    for name, ref, audio in clips:
        t0, c0 = time.perf_counter(), time.process_time()
        text = recognizer.transcribe(audio).text
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        audio_s += audio.duration
        refs.append(ref)
        hyps.append(text)
        rows.append((name, ref, text))
    return OfflineFigures(
        character_error_rate(refs, hyps), wall / audio_s, cpu / audio_s, audio_s, load_s, rows
    )


def streaming(recognizer, clips, threads: int, profile: str = "dialogue") -> StreamFigures:
    finals, finals_idle, final_decode, lags, lags_idle = [], [], [], [], []
    utterances = partials = 0
    refs, hyps = [], []
    for _name, ref, audio in clips:
        texts = []
        rate = audio.sample_rate
        silence = np.zeros(int(PAD_S * rate), np.float32)
        signal = np.concatenate([silence, audio.samples, silence])
        frame = int(FRAME_S * rate)
        stream = recognizer.create_stream(profile=profile)
        clock = idle = 0.0
        for i in range(0, len(signal), frame):
            arrival = min(i + frame, len(signal)) / rate
            clock, idle = max(clock, arrival), max(idle, arrival)
            stream.accept_waveform(rate, signal[i : i + frame])
            if i + frame >= len(signal):
                stream.input_finished()
            while stream.is_ready:
                t0, c0 = time.perf_counter(), time.process_time()
                events = stream.decode()
                cost = time.perf_counter() - t0
                clock += cost
                idle += (time.process_time() - c0) / threads
                for ev in events:
                    if isinstance(ev, PartialResult):
                        partials += 1
                        lags.append(clock - ev.time)
                        lags_idle.append(idle - ev.time)
                    elif isinstance(ev, FinalResult):
                        utterances += 1
                        finals.append(clock - ev.end)
                        finals_idle.append(idle - ev.end)
                        final_decode.append(cost)
                        texts.append(ev.transcript.text)
        refs.append(ref)
        hyps.append("".join(texts))
    return StreamFigures(
        finals,
        finals_idle,
        final_decode,
        lags,
        lags_idle,
        utterances,
        len(clips),
        partials,
        character_error_rate(refs, hyps),
    )


def speed(recognizer, clips, rounds: int) -> list[str]:
    """Wall RTF and CPU-s per audio-s of each entry point's recognizer calls, interleaved.

    Each round runs every entry point once over all clips, in turn, so load from other jobs
    falls on all of them alike; the table gives each entry point's median over the rounds
    and its CPU time relative to the CLI's one-file-at-a-time call.
    """
    audios = [a for _, _, a in clips]
    audio_s = sum(a.duration for a in audios)

    def one_by_one() -> None:
        for a in audios:
            recognizer.transcribe(a)

    def batched() -> None:
        recognizer.transcribe_batch(audios)

    def stream(profile: str) -> Callable[[], None]:
        return lambda: streaming(recognizer, clips, 1, profile)

    entry_points: list[tuple[str, Callable[[], None]]] = [
        ("`tingshuo transcribe FILE` / HTTP / OpenAI upload (one file per call)", one_by_one),
        (
            "`tingshuo transcribe FILE...` (several files) / concurrent HTTP uploads (batched)",
            batched,
        ),
        (
            "`/v1/asr` online/2pass stream (transcription profile, partials on)",
            stream("transcription"),
        ),
        ("`/v1/dialog` stream (dialogue profile, partials on)", stream("dialogue")),
    ]
    if not hasattr(recognizer, "transcribe_batch"):
        entry_points.pop(1)
    one_by_one()  # warm-up
    walls: dict[str, list[float]] = {n: [] for n, _ in entry_points}
    cpus: dict[str, list[float]] = {n: [] for n, _ in entry_points}
    for _ in range(rounds):
        for name, fn in entry_points:
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            walls[name].append((time.perf_counter() - t0) / audio_s)
            cpus[name].append((time.process_time() - c0) / audio_s)
    ref = statistics.median(cpus[entry_points[0][0]])
    lines = [
        f"Speed per entry point ({len(clips)} clips, {audio_s:.1f} s of audio, {rounds} interleaved"
        " rounds, medians; streams fed faster than real time, so their wall RTF is compute only):",
        "",
        "| entry point | RTF (wall) | CPU-s per audio-s | CPU vs one file per call |",
        "|---|---:|---:|---:|",
    ]
    for name, _ in entry_points:
        cpu = statistics.median(cpus[name])
        lines.append(
            f"| {name} | {statistics.median(walls[name]):.3f} | {cpu:.3f} | {cpu / ref:.2f} |"
        )
    print("\n".join(lines))
    return [*lines, ""]


def _stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    q = np.percentile(values, [50, 90])
    return f"mean {statistics.fmean(values):.2f} s, p50 {q[0]:.2f} s, p90 {q[1]:.2f} s, max {max(values):.2f} s"


def run_backend(
    config: EngineConfig,
    name: str,
    clips,
    do_stream: bool,
    profiles: tuple[str, ...] = STREAM_PROFILES,
    speed_rounds: int = 0,
) -> list[str]:
    lines = [f"## {name}", ""]
    t0 = time.perf_counter()
    try:
        recognizer = build_recognizer(recognizer_config(config), cache_root(config), name)
    except ModelNotFoundError as exc:
        msg = f"skipped: {exc}"
        print(f"[{name}] {msg}", file=sys.stderr)
        return [*lines, msg, ""]
    load_s = time.perf_counter() - t0
    if speed_rounds:
        return [*lines, *speed(recognizer, clips, speed_rounds)]
    off = offline(recognizer, clips, load_s)
    print(f"[{name}] CER {off.cer:.2%}  RTF {off.rtf:.3f}  (CPU-time RTF {off.cpu_rtf:.3f})")
    lines += [
        "| metric | value |",
        "|---|---|",
        f"| CER (NFKC, t2s, no punctuation/spaces; {len(clips)} clips, {off.audio_s:.1f} s) | {off.cer:.2%} |",
        f"| RTF (wall) | {off.rtf:.3f} |",
        f"| CPU time / audio time (all threads) | {off.cpu_rtf:.3f} |",
        f"| model load (incl. first-use assembly) | {off.load_s:.1f} s |",
    ]
    if do_stream:
        threads = max(
            1, config.asr.whisper.cpu_threads if name == "whisper" else config.asr.paraformer.ncpu
        )
        for profile in profiles:
            st = streaming(recognizer, clips, threads, profile)
            tag = f"[{name}/{profile}]"
            print(f"{tag} end-of-speech→final {_stats(st.final_latency)}")
            print(f"{tag} partial lag {_stats(st.partial_lag)}")
            print(f"{tag} idle estimates: final {_stats(st.final_latency_idle)}; ")
            print(f"{tag}   partial lag {_stats(st.partial_lag_idle)}")
            print(f"{tag} streaming CER {st.cer:.2%}")
            lines += [
                f"| {profile} stream: CER (finals of each clip joined) | {st.cer:.2%} |",
                f"| {profile} stream: utterances found (clips) | {st.utterances} ({st.clips}) |",
                f"| {profile} stream: partials | {st.partials} |",
                f"| {profile} stream: end-of-speech → final | {_stats(st.final_latency)} |",
                f"| of which: the final's decode call | {_stats(st.final_decode)} |",
                f"| … idle-machine estimate | {_stats(st.final_latency_idle)} |",
                f"| {profile} stream: partial lag | {_stats(st.partial_lag)} |",
                f"| … idle-machine estimate | {_stats(st.partial_lag_idle)} |",
            ]
    lines += [
        "",
        "<details><summary>per clip</summary>",
        "",
        "| clip | reference | hypothesis |",
        "|---|---|---|",
    ]
    lines += [f"| {n} | {r} | {h} |" for n, r, h in off.rows]
    return [*lines, "", "</details>", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", help="whisper / paraformer (default: both)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--no-stream", action="store_true", help="skip the streaming figures")
    parser.add_argument(
        "--stream-profile",
        action="append",
        choices=STREAM_PROFILES,
        help="stream endpointing profile(s) to score (default: both)",
    )
    parser.add_argument(
        "--speed",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="only time each entry point's recognizer calls, ROUNDS interleaved rounds",
    )
    parser.add_argument(
        "--corpus",
        choices=tuple(CORPORA),
        default="asr-dev",
        help="asr-dev (14 clips, default) or casia-2spk (600 acted single sentences, 2 speakers)",
    )
    parser.add_argument("--every", type=int, default=1, help="every N-th clip of the corpus")
    parser.add_argument("--out", default="benchmarks/results/asr.md")
    args = parser.parse_args(argv)
    config = load_config(overrides=args.overrides)
    root = shared_dir() / "eval" / CORPORA[args.corpus]
    clips = load_clips(root, args.every)
    load_before = os.getloadavg()
    lines = [
        "# ASR benchmark (benchmarks/asr.py)",
        "",
        "Command: `" + " ".join(["python -m benchmarks.asr", *(argv or sys.argv[1:])]) + "`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC. Machine: {os.cpu_count()}-core CPU "
        f"({platform.processor() or platform.machine()}), shared with other jobs: load average "
        f"{load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f} (1/5/15 min) at start.",
        "",
    ]
    for name in args.backend or ["whisper", "paraformer"]:
        lines += run_backend(
            config,
            name,
            clips,
            not args.no_stream,
            tuple(args.stream_profile or STREAM_PROFILES),
            args.speed,
        )
    load_after = os.getloadavg()
    lines.append(
        f"Load average at end: {load_after[0]:.1f} / {load_after[1]:.1f} / {load_after[2]:.1f}."
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
