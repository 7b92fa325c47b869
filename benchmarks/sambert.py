"""SAM-BERT + HiFi-GAN speed at full size: RTF and time to first audio, AM and vocoder apart.

    flock /work/bench.lock python -m benchmarks.sambert [--threads 2] [--sentences 20]
        [--out benchmarks/results/sambert.md]

Weights: the seed-0 golden state dicts of ../shared/reference/sambert/golden (full
sambert_16k and hifigan_v1_16k sizes; the duration head is de-degenerated so phones last
5-15 frames, a realistic speaking rate). The output is noise, the cost is realistic. They
are written into a temporary ModelScope-layout directory and loaded through the normal
``tts.sambert`` path.

Figures per sentence (the first N CSMSC test sentences): front end, acoustic model and
vocoder wall time, audio duration; RTF = time / audio duration. Time to first audio is
measured through ``stream()`` on a 3-sentence text (first yielded chunk).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see tts.sambert.build)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from tingshuo.core.paths import shared_dir  # noqa: E402

FIRST_AUDIO_TEXT = (
    "你好，欢迎使用听说语音对话引擎。今天天气很好，我们一起去公园散步吧。有什么可以帮您？"
)


def make_model_dir(root: Path) -> Path:
    """Golden weights in the ModelScope layout (voice ``zhitian_emo``)."""
    ref = shared_dir() / "reference" / "sambert"
    vdir = root / "voices" / "zhitian_emo"
    for sub in ("am/ckpt", "voc/ckpt"):
        (vdir / sub).mkdir(parents=True)
    shutil.copy(ref / "configs" / "sambert_16k.yaml", vdir / "am" / "config.yaml")
    shutil.copy(ref / "configs" / "hifigan_v1_16k.yaml", vdir / "voc" / "config.yaml")
    shutil.copy(ref / "configs" / "audio_config_16k.yaml", vdir / "audio_config.yaml")
    am = torch.load(ref / "golden" / "sambert_seed0.pth", map_location="cpu", weights_only=True)
    torch.save({"model": am}, vdir / "am" / "ckpt" / "checkpoint_0.pth")
    voc = torch.load(ref / "golden" / "hifigan_seed0.pth", map_location="cpu", weights_only=True)
    torch.save({"model": {"generator": voc}}, vdir / "voc" / "ckpt" / "checkpoint_0.pth")
    (root / "voices" / "voices.json").write_text(json.dumps({"voices": ["zhitian_emo"]}))
    return root


def sentences(n: int) -> list[str]:
    path = shared_dir() / "eval" / "tts-text" / "csmsc_test.txt"
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2:
            out.append(parts[1])
    return out[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None, help="append the markdown table here")
    args = ap.parse_args()

    from tingshuo.tts.sambert.model_dir import ModelDir
    from tingshuo.tts.sambert.synthesizer import SambertSynthesizer

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        synth = SambertSynthesizer(
            ModelDir.open(str(make_model_dir(Path(tmp)))), threads=args.threads
        )
        load_s = time.perf_counter() - t0
    voice = synth.default_voice
    sr = synth.sample_rate
    synth.synthesize("你好。")  # warm-up

    rows = []
    for text in sentences(args.sentences):
        t = time.perf_counter()
        lines = synth.token_lines(text, voice)
        t_fe = time.perf_counter() - t
        t_am = t_voc = c_am = c_voc = 0.0
        n_samples = 0
        for line in lines:
            t, c = time.perf_counter(), time.process_time()
            mel = synth.mel(line, voice)
            t_am += time.perf_counter() - t
            c_am += time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            wav = synth.vocode(mel, voice)
            t_voc += time.perf_counter() - t
            c_voc += time.process_time() - c
            n_samples += len(wav)
        rows.append((len(text), n_samples / sr, t_fe, t_am, t_voc, c_am, c_voc))

    async def first_chunk() -> float:
        t = time.perf_counter()
        async for _ in synth.stream(FIRST_AUDIO_TEXT):
            return time.perf_counter() - t
        return float("nan")

    firsts = [asyncio.run(first_chunk()) for _ in range(3)]
    audio_s = sum(r[1] for r in rows)
    fe_s, am_s, voc_s, am_cpu, voc_cpu = (sum(r[i] for r in rows) for i in (2, 3, 4, 5, 6))
    chars = sum(r[0] for r in rows)
    load = os.getloadavg()
    lines_out = [
        f"### sambert full size, {args.threads} torch threads, {len(rows)} CSMSC sentences",
        "",
        f"- command: `flock /work/bench.lock python -m benchmarks.sambert --threads {args.threads} "
        f"--sentences {args.sentences}`",
        f"- machine: {platform.machine()} {os.cpu_count()} cores (shared), torch {torch.__version__}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, load average at end "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}",
        f"- load of both models: {load_s:.2f} s; audio synthesized: {audio_s:.1f} s "
        f"({chars} characters, {1000 * audio_s / chars:.0f} ms of audio per character)",
        "",
        "| stage | wall s | RTF (wall / audio) | ms wall per char | CPU s (all threads) | CPU-s per audio s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| front end | {fe_s:.2f} | {fe_s / audio_s:.3f} | {1000 * fe_s / chars:.1f} | | |",
        f"| acoustic model (SAM-BERT) | {am_s:.2f} | {am_s / audio_s:.3f} | {1000 * am_s / chars:.1f} "
        f"| {am_cpu:.2f} | {am_cpu / audio_s:.3f} |",
        f"| vocoder (HiFi-GAN) | {voc_s:.2f} | {voc_s / audio_s:.3f} | {1000 * voc_s / chars:.1f} "
        f"| {voc_cpu:.2f} | {voc_cpu / audio_s:.3f} |",
        f"| total | {fe_s + am_s + voc_s:.2f} | {(fe_s + am_s + voc_s) / audio_s:.3f} "
        f"| {1000 * (fe_s + am_s + voc_s) / chars:.1f} | {am_cpu + voc_cpu:.2f} "
        f"| {(am_cpu + voc_cpu) / audio_s:.3f} |",
        "",
        f"Time to first audio through `stream()` (3-sentence text, first segment "
        f"≤ {synth.first_segment_chars} chars): "
        f"median {statistics.median(firsts):.3f} s (runs: {', '.join(f'{x:.3f}' for x in firsts)}).",
        "",
    ]
    report = "\n".join(lines_out)
    print(report)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write(report + "\n")


if __name__ == "__main__":
    main()
