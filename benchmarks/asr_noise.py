"""Recognition in noise and on non-speech: CER against SNR, share of non-speech with text.

    nice -n 10 python -m benchmarks.asr_noise [--set k=v ...] [--out benchmarks/results/asr_noise]

The inputs come from :mod:`benchmarks.noise_set` (generated at run time, deterministic): the
../shared/eval/asr-dev clips mixed with white and pink noise at 20/10/5/0 dB SNR, and 25
non-speech signals (silence, noise, tones, a sweep, DTMF, clicks, music-like signals).
Each input goes through the offline path (``Recognizer.transcribe``, what the CLI, the HTTP
endpoints and jobs use) and, for non-speech, also through a stream (what ``/v1/dialog`` and
``/v1/asr`` use). CER normalisation as benchmarks/asr.py (NFKC, t2s, no punctuation/spaces).
Writes ``report.md``, ``cer_vs_snr.png`` and ``items.jsonl`` to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.asr import load_clips
from benchmarks.noise_set import NOISES, SNRS_DB, SR, nonspeech_items, speech_in_noise
from tingshuo.asr.base import FinalResult
from tingshuo.asr.config import STREAM_PROFILES
from tingshuo.asr.factory import build_recognizer
from tingshuo.asr.textproc import character_error_rate
from tingshuo.core.audio import Audio
from tingshuo.core.paths import shared_dir
from tingshuo.engine.config import cache_root, load_config


def stream_text(recognizer, samples: np.ndarray, profile: str = "dialogue") -> str:
    """Feed 20 ms frames to a new stream (endpointing ``profile``); the finals' text joined."""
    stream = recognizer.create_stream(profile=profile)
    texts = []
    frame = SR // 50
    for i in range(0, len(samples), frame):
        stream.accept_waveform(SR, samples[i : i + frame])
        if i + frame >= len(samples):
            stream.input_finished()
        while stream.is_ready:
            texts += [e.transcript.text for e in stream.decode() if isinstance(e, FinalResult)]
    return "".join(texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--out", default="benchmarks/results/asr_noise")
    parser.add_argument("--no-speech-set", action="store_true", help="only the non-speech set")
    parser.add_argument(
        "--stream-profile",
        choices=STREAM_PROFILES,
        default="dialogue",
        help="endpointing of the streaming path (dialogue: /v1/dialog; transcription: /v1/asr)",
    )
    args = parser.parse_args(argv)
    config = load_config(overrides=args.overrides)
    recognizer = build_recognizer(config.asr, cache_root(config))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    t_start = time.perf_counter()
    records = []
    for item in nonspeech_items():
        text = recognizer.transcribe(Audio(item.samples, SR)).text
        streamed = stream_text(recognizer, item.samples, args.stream_profile)
        records.append({"name": item.name, "kind": "nonspeech", "text": text, "stream": streamed})
        print(f"{item.name:24s} offline={text!r} stream={streamed!r}", flush=True)
    cer: dict[tuple[str, float], float] = {}
    if not args.no_speech_set:
        clips = [
            (n, r, a.resample(SR).samples)
            for n, r, a in load_clips(shared_dir() / "eval" / "asr-dev")
        ]
        clean = [recognizer.transcribe(Audio(s, SR)).text for _, _, s in clips]
        cer[("clean", float("inf"))] = character_error_rate([r for _, r, _ in clips], clean)
        groups: dict[tuple[str, float], tuple[list[str], list[str]]] = {}
        for item in speech_in_noise(clips):
            text = recognizer.transcribe(Audio(item.samples, SR)).text
            refs, hyps = groups.setdefault((item.noise, float(item.snr_db or 0)), ([], []))
            refs.append(item.reference)
            hyps.append(text)
            records.append(
                {"name": item.name, "kind": "speech", "ref": item.reference, "text": text}
            )
        for key, (refs, hyps) in groups.items():
            cer[key] = character_error_rate(refs, hyps)
            print(f"{key[0]} {key[1]:g} dB: CER {cer[key]:.2%}", flush=True)
    elapsed = time.perf_counter() - t_start
    load1 = os.getloadavg()
    nonspeech = [r for r in records if r["kind"] == "nonspeech"]
    off_text = [r for r in nonspeech if r["text"].strip()]
    str_text = [r for r in nonspeech if r["stream"].strip()]
    lines = [
        "# ASR in noise and on non-speech (benchmarks/asr_noise.py)",
        "",
        "Command: `" + " ".join(["python -m benchmarks.asr_noise", *(argv or sys.argv[1:])]) + "`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()}-core CPU shared with "
        f"other jobs, load average {load0[0]:.1f} at start, {load1[0]:.1f} at end; {elapsed:.0f} s.",
        "",
        "## Non-speech inputs",
        "",
        f"{len(nonspeech)} signals of 4 s. Empty transcript: offline path "
        f"**{1 - len(off_text) / len(nonspeech):.0%}** ({len(nonspeech) - len(off_text)}/{len(nonspeech)}), "
        f"streaming path **{1 - len(str_text) / len(nonspeech):.0%}** "
        f"({len(nonspeech) - len(str_text)}/{len(nonspeech)}).",
        "",
        "| signal | offline text | stream text |",
        "|---|---|---|",
    ]
    lines += [f"| {r['name']} | {r['text']} | {r['stream']} |" for r in nonspeech]
    if cer:
        lines += [
            "",
            "## CER against SNR (asr-dev clips + generated noise)",
            "",
            f"Clean: {cer[('clean', float('inf'))]:.2%}",
            "",
            "| noise | " + " | ".join(f"{s} dB" for s in SNRS_DB) + " |",
            "|---|" + "---|" * len(SNRS_DB),
        ]
        for color in NOISES:
            lines.append(
                f"| {color} | "
                + " | ".join(f"{cer[(color, float(s))]:.1%}" for s in SNRS_DB)
                + " |"
            )
        _plot(cer, out / "cer_vs_snr.png")
        lines += ["", "![CER vs SNR](cer_vs_snr.png)"]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with (out / "items.jsonl").open("w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {out}/report.md")
    return 0


def _plot(cer: dict[tuple[str, float], float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for color in NOISES:
        ax.plot(
            SNRS_DB, [100 * cer[(color, float(s))] for s in SNRS_DB], "o-", label=f"{color} noise"
        )
    ax.axhline(100 * cer[("clean", float("inf"))], ls="--", c="gray", label="clean")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("CER (%)")
    ax.invert_xaxis()
    ax.set_title("Whisper base on asr-dev + noise")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    raise SystemExit(main())
