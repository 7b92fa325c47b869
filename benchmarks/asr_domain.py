"""Domain terms: CER on the domain sentence set with and without hotwords, and the effect of
the same hotwords on general CER (../shared/eval/asr-dev).

    nice -n 10 python -m benchmarks.asr_domain [--set k=v ...] [--out benchmarks/results/asr_domain.md]

The domain set is benchmarks/data/domain_terms (16 sentences synthesized by the project's TTS,
see its PROVENANCE.md). Hotwords are the knowledge base's ``hotwords`` list (what the engine
passes with ``asr.kb_hotwords``), given to Whisper as faster-whisper's ``hotwords`` prefix on
every decode (``always``) or only on a re-decode of text that sounds like one (``sounds_like``).
Both runs go through ``Recognizer.transcribe`` (the CLI / HTTP path). CER normalisation as in
benchmarks/asr.py; also reported: the share of hotword occurrences spelt right.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
from dataclasses import replace
from pathlib import Path

from benchmarks.asr import load_clips
from tingshuo.asr.factory import build_recognizer
from tingshuo.asr.textproc import character_error_rate, normalize_for_cer
from tingshuo.core.audio import read_audio
from tingshuo.core.paths import shared_dir
from tingshuo.dialog.knowledge_base import KnowledgeBase
from tingshuo.engine.config import cache_root, load_config

DATA = Path(__file__).parent / "data" / "domain_terms"


def term_recall(refs: list[str], hyps: list[str], terms: list[str]) -> tuple[int, int]:
    """(hotword occurrences found in the hypothesis, occurrences in the references)."""
    found = total = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        h = normalize_for_cer(hyp)
        for term in terms:
            if term in ref:
                total += 1
                found += term in h
    return found, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument("--out", default="benchmarks/results/asr_domain.md")
    args = parser.parse_args(argv)
    config = load_config(overrides=args.overrides)
    terms = KnowledgeBase.hotwords_of(config.dialog.knowledge_base or None)
    with (DATA / "sentences.tsv").open(encoding="utf-8") as f:
        domain = [
            (r["text"], read_audio(DATA / f"{r['id']}.ogg"))
            for r in csv.DictReader(f, delimiter="\t")
        ]
    general = [(ref, audio) for _, ref, audio in load_clips(shared_dir() / "eval" / "asr-dev")]
    load0 = os.getloadavg()
    results = {}
    runs = (
        ("without hotwords", "", "always"),
        ("KB hotwords, always", " ".join(terms), "always"),
        ("KB hotwords, sounds_like (default)", " ".join(terms), "sounds_like"),
    )
    for label, hot, mode in runs:
        asr = replace(config.asr, hotwords=hot, kb_hotwords=False, hotword_mode=mode)
        rec = build_recognizer(asr, cache_root(config))
        for set_name, items in (("domain", domain), ("asr-dev", general)):
            refs = [r for r, _ in items]
            hyps = [rec.transcribe(a).text for _, a in items]
            results[(label, set_name)] = (
                character_error_rate(refs, hyps),
                term_recall(refs, hyps, terms),
                hyps,
            )
            print(f"{label:36s} {set_name:8s} CER {results[(label, set_name)][0]:.2%}", flush=True)
    load1 = os.getloadavg()
    lines = [
        "# Domain terms: hotwords (benchmarks/asr_domain.py)",
        "",
        "Command: `" + " ".join(["python -m benchmarks.asr_domain", *(argv or sys.argv[1:])]) + "`",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average {load0[0]:.1f} at start, "
        f"{load1[0]:.1f} at end. Hotwords ({len(terms)}): {' '.join(terms)}",
        "",
        "| decoding | domain set CER (16 sentences) | hotwords spelt right | asr-dev CER (14 clips) |",
        "|---|---|---|---|",
    ]
    for label, _, _ in runs:
        d_cer, (found, total), _ = results[(label, "domain")]
        g_cer = results[(label, "asr-dev")][0]
        lines.append(f"| {label} | {d_cer:.2%} | {found}/{total} | {g_cer:.2%} |")
    lines += ["", "| sentence | without | sounds_like |", "|---|---|---|"]
    for (ref, _), a, b in zip(
        domain,
        results[("without hotwords", "domain")][2],
        results[(runs[-1][0], "domain")][2],
        strict=True,
    ):
        lines.append(f"| {ref} | {a} | {b} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
