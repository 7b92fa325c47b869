"""Synthesize the domain-term sentence set with the project's own TTS (run once; committed).

    nice -n 10 python -m benchmarks.make_domain_set [--voice V] [--set k=v ...]

Reads ``benchmarks/data/domain_terms/sentences.tsv`` (sentences written for this project
about a fictional shop's products and services), synthesizes each with the configured
synthesizer (default: Kokoro, ``tts.voice``), resamples to 16 kHz and writes
``<id>.ogg`` (Vorbis, small) beside it plus ``PROVENANCE.md`` naming the engine, voice,
commit and date. The recognizer benchmark (benchmarks/asr_domain.py) reads those files.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import subprocess
from pathlib import Path

import soundfile as sf

from tingshuo.engine.config import cache_root, load_config
from tingshuo.tts.factory import build_synthesizer

DATA = Path(__file__).parent / "data" / "domain_terms"
SR = 16000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voice", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    args = parser.parse_args(argv)
    config = load_config(overrides=args.overrides)
    synth = build_synthesizer(config.tts, cache_root(config))
    voice = args.voice or config.tts.kokoro.voice
    with (DATA / "sentences.tsv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for row in rows:
        audio = synth.synthesize(row["text"], voice=voice).resample(SR)
        sf.write(DATA / f"{row['id']}.ogg", audio.samples, SR, format="OGG", subtype="VORBIS")
        print(row["id"], f"{audio.duration:.2f} s", row["text"])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    (DATA / "PROVENANCE.md").write_text(
        "# Domain-term sentence set\n\n"
        "- Text: `sentences.tsv`, 16 sentences written for this project (a fictional shop's\n"
        "  product names and after-sales terms; no third-party text).\n"
        f"- Audio: synthesized by tingshuo's own TTS, backend `{config.tts.backend}`, voice "
        f"`{voice}`, neutral style,\n"
        f"  at commit {commit}, {dt.datetime.now(dt.UTC):%Y-%m-%d} UTC, with "
        "`python -m benchmarks.make_domain_set`;\n"
        "  resampled to 16 kHz, stored as Ogg Vorbis to keep the repository small.\n"
        "- Licence: as the project's (the Kokoro weights are Apache-2.0).\n"
        "- Use: benchmarks/asr_domain.py (CER with and without hotwords); tests.\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
