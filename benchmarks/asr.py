"""ASR benchmark: CER and RTF per backend on ../shared/eval/asr-dev, plus streaming latency.

    flock /work/bench.lock python -m benchmarks.asr [--backend whisper] [--set k=v ...]
        [--out benchmarks/results/asr.md]

CER: corpus CER (jiwer) over all clips — of ``transcribe`` (offline path: CLI, HTTP, jobs) and,
with streaming on, of the streams' finals (``/v1/dialog``, ``/v1/asr`` online) on text normalised as ../shared/eval/README.md says
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tingshuo.asr.base import FinalResult, PartialResult
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


def load_clips(root: Path) -> list[tuple[str, str, Audio]]:
    with (root / "transcripts.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
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


def streaming(recognizer, clips, threads: int) -> StreamFigures:
    finals, finals_idle, final_decode, lags, lags_idle = [], [], [], [], []
    utterances = partials = 0
    refs, hyps = [], []
    for _name, ref, audio in clips:
        texts = []
        rate = audio.sample_rate
        silence = np.zeros(int(PAD_S * rate), np.float32)
        signal = np.concatenate([silence, audio.samples, silence])
        frame = int(FRAME_S * rate)
        stream = recognizer.create_stream()
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


def _stats(values: list[float]) -> str:
    if not values:
        return "n/a"
    q = np.percentile(values, [50, 90])
    return f"mean {statistics.fmean(values):.2f} s, p50 {q[0]:.2f} s, p90 {q[1]:.2f} s, max {max(values):.2f} s"


def run_backend(config: EngineConfig, name: str, clips, do_stream: bool) -> list[str]:
    lines = [f"## {name}", ""]
    t0 = time.perf_counter()
    try:
        recognizer = build_recognizer(recognizer_config(config), cache_root(config), name)
    except ModelNotFoundError as exc:
        msg = f"skipped: {exc}"
        print(f"[{name}] {msg}", file=sys.stderr)
        return [*lines, msg, ""]
    load_s = time.perf_counter() - t0
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
        st = streaming(recognizer, clips, threads)
        print(f"[{name}] end-of-speech→final {_stats(st.final_latency)}")
        print(f"[{name}] partial lag {_stats(st.partial_lag)}")
        print(f"[{name}] idle estimates: final {_stats(st.final_latency_idle)}; ")
        print(f"[{name}]   partial lag {_stats(st.partial_lag_idle)}")
        print(f"[{name}] streaming CER {st.cer:.2%}")
        lines += [
            f"| streaming path CER (finals of each clip joined) | {st.cer:.2%} |",
            f"| streaming: utterances found (clips) | {st.utterances} ({st.clips}) |",
            f"| streaming: partials | {st.partials} |",
            f"| end-of-speech → final | {_stats(st.final_latency)} |",
            f"| of which: the final's decode call | {_stats(st.final_decode)} |",
            f"| end-of-speech → final, idle-machine estimate | {_stats(st.final_latency_idle)} |",
            f"| partial lag | {_stats(st.partial_lag)} |",
            f"| partial lag, idle-machine estimate | {_stats(st.partial_lag_idle)} |",
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
    parser.add_argument("--out", default="benchmarks/results/asr.md")
    args = parser.parse_args(argv)
    config = load_config(overrides=args.overrides)
    root = shared_dir() / "eval" / "asr-dev"
    clips = load_clips(root)
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
        lines += run_backend(config, name, clips, not args.no_stream)
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
