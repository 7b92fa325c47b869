"""Endpointing: false cuts, final delay and CER of the dialogue stream's hangover settings.

    python -m benchmarks.endpointing [--clips N]

Streams every ../shared/eval/asr-dev clip (1.5 s of silence around it, 20 ms frames) through
the Whisper stream with each hangover setting and reports:

- false cuts: finals beyond one per clip (each asr-dev clip is one turn of one speaker, so a
  second final means the endpointer cut inside the turn), as a share of clips;
- final delay: end of speech (the endpointer's last voiced frame) → final result, on a clock
  that advances by the audio's real time and by each decode's CPU time / threads (what a
  quiet machine would show; the machine's load does not inflate it as much as wall time);
- CER of each clip's finals joined, against its reference.

Settings compared: the fixed hangovers (600 ms, the old default; 1000 ms) and the adaptive
one (``early_silence_ms`` when the prefetched text reads complete, ``incomplete_silence_ms``
when it trails off). Results are appended to benchmarks/results/endpointing.md.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tingshuo.asr.base import FinalResult  # noqa: E402
from tingshuo.asr.factory import build_recognizer  # noqa: E402
from tingshuo.asr.textproc import character_error_rate  # noqa: E402
from tingshuo.core.audio import read_audio  # noqa: E402
from tingshuo.core.paths import shared_dir  # noqa: E402
from tingshuo.engine.config import cache_root, load_config  # noqa: E402

FRAME_S = 0.02
PAD_S = 1.5
THREADS = 2
SETTINGS = {
    "fixed 600 ms (old default)": dict(
        min_silence_ms=600, early_silence_ms=0, incomplete_silence_ms=0, prefetch_silence_ms=200
    ),
    "fixed 1000 ms": dict(
        min_silence_ms=1000, early_silence_ms=0, incomplete_silence_ms=0, prefetch_silence_ms=200
    ),
    "adaptive (default: 300 / 600 / 1000 ms)": dict(),
}


def run(setting: dict, clips: list[tuple[str, str, np.ndarray]]) -> dict:
    """Stream every clip with ``setting``; cuts, delays and CER."""
    config = load_config()
    asr = config.asr
    asr = dataclasses.replace(asr, endpoint=dataclasses.replace(asr.endpoint, **setting))
    recognizer = build_recognizer(asr, cache_root(config))
    recognizer.transcribe(read_audio(shared_dir() / "eval" / "asr-dev" / "wav" / clips[0][0]))
    refs, hyps, delays, finals_per_clip = [], [], [], []
    for _name, ref, samples in clips:
        silence = np.zeros(int(PAD_S * 16000), np.float32)
        signal = np.concatenate([silence, samples, silence])
        stream = recognizer.create_stream()
        clock, texts, step = 0.0, [], int(FRAME_S * 16000)
        for i in range(0, len(signal), step):
            clock = max(clock, min(i + step, len(signal)) / 16000)
            stream.accept_waveform(16000, signal[i : i + step])
            if i + step >= len(signal):
                stream.input_finished()
            while stream.is_ready:
                c0 = time.process_time()
                events = stream.decode()
                clock += (time.process_time() - c0) / THREADS
                for ev in events:
                    if isinstance(ev, FinalResult):
                        texts.append(ev.transcript.text)
                        delays.append(clock - ev.end)
        finals_per_clip.append(len(texts))
        refs.append(ref)
        hyps.append("".join(texts))
    extra = sum(max(0, n - 1) for n in finals_per_clip)
    return {
        "clips": len(clips),
        "false_cuts": extra / len(clips),
        "clips_cut": sum(1 for n in finals_per_clip if n > 1),
        "delay_p50": statistics.median(delays),
        "delay_p95": float(np.percentile(delays, 95)),
        "cer": character_error_rate(refs, hyps),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=0, help="only the first N clips (0: all)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "endpointing.md"))
    args = ap.parse_args(argv)
    root = shared_dir() / "eval" / "asr-dev"
    with (root / "transcripts.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if args.clips:
        rows = rows[: args.clips]
    clips = [
        (r["file"], r["transcript"], read_audio(root / "wav" / r["file"], 16000).samples)
        for r in rows
    ]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [
        f"## Endpointing on asr-dev ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `python -m benchmarks.endpointing {' '.join(argv or sys.argv[1:])}`; "
        f"2-core x86-64, no GPU, load average {load} before the run. Delays on a clock of "
        "audio time + decode CPU time / 2 threads.",
        "",
        "| hangover | false cuts per clip | clips cut | final delay p50 / p95 (s) | CER |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, setting in SETTINGS.items():
        r = run(setting, clips)
        line = (
            f"| {name} | {r['false_cuts']:.3f} | {r['clips_cut']}/{r['clips']} | "
            f"{r['delay_p50']:.2f} / {r['delay_p95']:.2f} | {r['cer']:.2%} |"
        )
        print(line, flush=True)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
