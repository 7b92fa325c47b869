"""``tingshuo train bridge``: the emotion bridge from real speech and text.

Steps (all on CPU, ≤ 30 min on two cores once the speech features are cached):

1. speech features of every clip of the configured corpora (one Whisper-base encoder pass
   pooled over the voiced frames + prosody; cached, see :mod:`.speech_corpora`);
2. per-speaker z-scoring; a class-balanced logistic regression per C of ``c_grid``,
   evaluated leave-one-speaker-out (LOSO) over every training speaker; C chosen on the mean
   per-speaker macro-F1 over all speakers (the curve is plotted);
3. temperatures fitted on the out-of-fold logits; the confidence threshold chosen on them
   (lowest τ at which the confident predictions are right ≥ ``target_precision``);
4. cross-corpus check: trained on EMO-DB only, tested on CASIA (the 5 shared emotions);
5. the text model (SMP2020 usual + virus train, CPED valid with ``text_cped``);
6. fusion temperature on CASIA (out-of-fold speech × text of the transcripts); false
   escalation on neutral speech and SMP2020 neutral posts;
7. the final heads on all data; checkpoint, metrics, curves, confusion PNGs, model card.

Nothing is written outside ``out_dir`` and the feature cache.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.dialog.checkpoint import BridgeCheckpoint, Fusion, save_checkpoint
from tingshuo.dialog.speaker_norm import speaker_zscore
from tingshuo.dialog.speech_emotion import (
    ENCODER_POOLED_DIM,
    CorpusStats,
    LinearHead,
    SpeechEmotionModel,
    select_prosody,
)
from tingshuo.dialog.text_emotion import TextEmotionModel
from tingshuo.joint_training import bridge_eval as ev
from tingshuo.joint_training.config import BridgeTrainConfig, save_resolved
from tingshuo.joint_training.model_card import write_model_card
from tingshuo.joint_training.speech_corpora import (
    CorpusFeatures,
    EncodeFn,
    corpus_features,
    read_labels,
)
from tingshuo.joint_training.text_data import load_or_train_text_model, smp_split

log = logging.getLogger(__name__)
CASIA = "casia-2spk"
SHARED5 = ("neutral", "happy", "angry", "sad", "fear")
ESCALATION_TURNS = 3
TEXT_WEIGHTS = (0.25, 0.5, 1.0)  # offered fusion weights of the text (speech: 1)


def corpus_stats(x: np.ndarray, speakers: np.ndarray) -> CorpusStats:
    """Mean of per-speaker means, mean of per-speaker variances."""
    names = sorted(set(speakers))
    return CorpusStats(
        np.mean([x[speakers == s].mean(0) for s in names], 0),
        np.mean([x[speakers == s].var(0) for s in names], 0),
    )


def _design(f: CorpusFeatures, prosody_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(full z-scored features, prosody-only z-scored features), per speaker.

    In the full design the 23 prosodic columns are multiplied by ``prosody_scale`` so the L2
    penalty does not drown them among 1024 encoder columns; the saved coefficients absorb
    the factor, so inference z-scores alone."""
    zp = speaker_zscore(select_prosody(f.prosody).astype(np.float64), f.speaker)
    ze = speaker_zscore(f.encoder.astype(np.float64), f.speaker)
    return np.hstack([ze, prosody_scale * zp]), zp


def _unscale(coef: np.ndarray, prosody_scale: float) -> np.ndarray:
    """Coefficients on plain z-scores: the prosodic columns absorb the training scale."""
    out = np.array(coef, dtype=np.float64)
    out[:, ENCODER_POOLED_DIM:] *= prosody_scale
    return out


def _per_speaker_f1(
    logits: dict[str, np.ndarray], y: dict[str, np.ndarray], labels: dict[str, list[int]]
) -> dict[str, float]:
    return {s: ev.macro_f1(y[s], lg.argmax(1), labels[s]) for s, lg in logits.items()}


def train_bridge(
    cfg: BridgeTrainConfig,
    cache_dir: Path,
    shared_dir: Path,
    encode: Callable[[], EncodeFn],
    *,
    text_encoder: Callable[[list[str]], np.ndarray] | None = None,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, evaluate and write the bridge checkpoint into ``cfg.out_dir``; return metrics."""
    os.environ.setdefault("OMP_NUM_THREADS", str(cfg.threads))
    start = time.perf_counter()
    out = Path(cfg.out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    speech_dir = shared_dir / "eval" / "emotion-speech"
    feats = CorpusFeatures.concat(
        [corpus_features(speech_dir, cache_dir, encode, c) for c in cfg.corpora]
    )
    corpus_sizes = {
        c: {"used": int((feats.corpus == c).sum()), "in_corpus": 0} for c in cfg.corpora
    }
    for c, n in corpus_sizes.items():
        try:
            n["in_corpus"] = len(read_labels(speech_dir / c))
        except FileNotFoundError:  # features cached, corpus folder not here
            n["in_corpus"] = n["used"]
    for c, n in corpus_sizes.items():
        if n["used"] < n["in_corpus"]:
            say(f"note: the feature cache holds {n['used']} of {n['in_corpus']} clips of {c}")
    say(
        f"speech features: {len(feats)} clips, {len(set(feats.speaker))} speakers "
        f"({time.perf_counter() - start:.0f} s)"
    )
    designs = {float(a): _design(feats, float(a)) for a in cfg.prosody_scales}
    x_pros = next(iter(designs.values()))[1]
    y, spk = feats.emotion, feats.speaker
    speakers = sorted(set(spk))
    y_idx = {s: ev.index(y[spk == s]) for s in speakers}
    labels = {s: sorted(set(y_idx[s].tolist())) for s in speakers}
    casia_spk = sorted(set(spk[feats.corpus == CASIA]))

    # 2. C (and prosody scale) sweep, LOSO over every speaker
    grid = [float(c) for c in cfg.c_grid]
    curve: dict[str, list[float]] = {}
    sweeps: dict[tuple[float, float], tuple[dict[str, np.ndarray], dict[str, float]]] = {}
    score: dict[tuple[float, float], float] = {}
    for alpha, (x_a, _) in designs.items():
        names = [
            f"{k}, prosody x{alpha:g}"
            for k in ("mean speaker macro-F1", "CASIA LOSO macro-F1", "log-loss (OOF, T=1)")
        ]
        for name in names:
            curve[name] = []
        for cv in grid:
            lg = ev.loso_logits(x_a, y, spk, cv)
            f1 = _per_speaker_f1(lg, y_idx, labels)
            z = np.concatenate(list(lg.values()))
            allp = ev.softmax(np.where(np.isfinite(z), z, -1e4))
            yy = np.concatenate([y_idx[s] for s in lg])
            score[(alpha, cv)] = float(np.mean(list(f1.values())))
            curve[names[0]].append(score[(alpha, cv)])
            curve[names[1]].append(float(np.mean([f1[s] for s in casia_spk])) if casia_spk else 0.0)
            curve[names[2]].append(float(-np.log(allp[np.arange(len(yy)), yy] + 1e-12).mean()))
            sweeps[(alpha, cv)] = (lg, f1)
            say(
                f"prosody x{alpha:g}, C={cv:g}: mean speaker F1 {score[(alpha, cv)]:.3f}, CASIA {curve[names[1]][-1]:.3f}"
            )
    alpha_best, c_best = max(score, key=lambda k: score[k])
    x_full = designs[alpha_best][0]
    oof, f1_best = sweeps[(alpha_best, c_best)]
    ev.plot_curves(grid, curve, "C (inverse L2 strength)", out / "curves_c_sweep.png")

    # 3. calibration and threshold on the OOF logits
    probs, t_full = ev.cross_fitted_probs(oof, y_idx)
    all_p = np.concatenate([probs[s] for s in speakers])
    all_y = np.concatenate([y_idx[s] for s in speakers])
    tau = ev.choose_threshold(all_p, all_y, cfg.target_precision)
    pros_oof = ev.loso_logits(x_pros, y, spk, cfg.prosody_c)
    pros_probs, t_pros = ev.cross_fitted_probs(pros_oof, y_idx)
    pros_f1 = _per_speaker_f1(pros_oof, y_idx, labels)

    # 4. cross-corpus: EMO-DB only -> CASIA, the shared five
    cross: dict[str, Any] = {}
    if casia_spk and (feats.corpus != CASIA).any():
        keep5 = np.isin(y, SHARED5)
        train = (feats.corpus != CASIA) & keep5
        clf = ev.fit_head(x_full[train], y[train], c_best)
        test = (feats.corpus == CASIA) & keep5
        pred = ev.canonical_logits(clf, x_full[test]).argmax(1)
        cross = {
            "train": "emodb (10 speakers)",
            "test": "casia-2spk",
            "classes": list(SHARED5),
            "macro_f1": ev.macro_f1(ev.index(y[test]), pred, ev.index(SHARED5)),
            "per_speaker": {
                s: ev.macro_f1(
                    ev.index(y[test & (spk == s)]), pred[spk[test] == s], ev.index(SHARED5)
                )
                for s in casia_spk
            },
        }
        ev.plot_confusion(
            ev.index(y[test]),
            pred,
            list(ev.index(SHARED5)),
            "cross-corpus: EMO-DB -> CASIA",
            out / "confusion_cross_corpus.png",
        )

    # 5. text
    text = load_or_train_text_model(cfg, shared_dir, cache_dir, text_encoder, say)
    # 6. fusion on CASIA (speech OOF x text of the transcripts), false escalation
    fusion, fused_metrics, neutral_flags = _fusion(feats, probs, y_idx, text, casia_spk, tau)
    esc_min = max(tau, 0.6)
    speech_flags = {
        s: ev.confident_negative(probs[s][y[spk == s] == "neutral"], tau, esc_min) for s in speakers
    }
    text_neutral = _text_neutral_flags(text, shared_dir, tau, esc_min)
    false_esc = {
        "turns": ESCALATION_TURNS,
        "min_confidence": esc_min,
        "speech_neutral_turn_rate": float(np.mean(np.concatenate(list(speech_flags.values())))),
        "speech_neutral_sessions": ev.false_escalation_rate(speech_flags, ESCALATION_TURNS),
        "fused_neutral_turn_rate": float(np.mean(np.concatenate(list(neutral_flags.values()))))
        if neutral_flags
        else None,
        "fused_neutral_sessions": ev.false_escalation_rate(neutral_flags, ESCALATION_TURNS)
        if neutral_flags
        else None,
        **text_neutral,
    }

    # 7. final heads
    full_clf = ev.fit_head(x_full, y, c_best)
    pros_clf = ev.fit_head(x_pros, y, cfg.prosody_c)
    speech = SpeechEmotionModel(
        full=LinearHead(
            _unscale(full_clf.coef_, alpha_best),
            full_clf.intercept_,
            tuple(map(str, full_clf.classes_)),
            t_full,
        ),
        prosody_only=LinearHead(
            pros_clf.coef_, pros_clf.intercept_, tuple(map(str, pros_clf.classes_)), t_pros
        ),
        prosody_prior=corpus_stats(select_prosody(feats.prosody).astype(np.float64), spk),
        encoder_prior=corpus_stats(feats.encoder.astype(np.float64), spk),
        prior_weight=cfg.prior_weight,
    )
    casia_y = np.concatenate([y_idx[s] for s in casia_spk]) if casia_spk else np.zeros(0, int)
    casia_pred = np.concatenate([oof[s].argmax(1) for s in casia_spk]) if casia_spk else casia_y
    if casia_spk:
        lab6 = sorted(set(casia_y.tolist()))
        ev.plot_confusion(
            casia_y,
            casia_pred,
            lab6,
            f"speech, CASIA LOSO (C={c_best:g})",
            out / "confusion_speech_casia_loso.png",
        )
        ev.plot_reliability(
            {
                "speech (CASIA LOSO)": (np.concatenate([probs[s] for s in casia_spk]), casia_y),
                "speech (all LOSO)": (all_p, all_y),
            },
            out / "reliability_speech.png",
        )
    metrics = {
        "speech": {
            "c": c_best,
            "prosody_scale": alpha_best,
            "loso_macro_f1": f1_best,
            "casia_loso_macro_f1": float(np.mean([f1_best[s] for s in casia_spk]))
            if casia_spk
            else None,
            "emodb_loso_macro_f1": float(
                np.mean([f1_best[s] for s in speakers if s not in casia_spk])
            )
            if len(speakers) > len(casia_spk)
            else None,
            "ece_loso": ev.ece(all_p, all_y),
            "ece_casia_loso": ev.ece(np.concatenate([probs[s] for s in casia_spk]), casia_y)
            if casia_spk
            else None,
            "temperature": t_full,
            "c_sweep": {"c": grid, **curve},
        },
        "prosody_only": {
            "c": cfg.prosody_c,
            "casia_loso_macro_f1": float(np.mean([pros_f1[s] for s in casia_spk]))
            if casia_spk
            else None,
            "loso_macro_f1": pros_f1,
            "ece_loso": ev.ece(np.concatenate([pros_probs[s] for s in speakers]), all_y),
        },
        "cross_corpus": cross,
        "fused_casia": fused_metrics,
        "text": text.meta.get("metrics", {}),
        "min_confidence": tau,
        "target_precision": cfg.target_precision,
        "coverage_at_threshold": float((all_p.max(1) >= tau).mean()),
        "false_escalation": false_esc,
        "clips": int(len(feats)),
        "corpus_clips": corpus_sizes,
        "speakers": speakers,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    ckpt = BridgeCheckpoint(speech, text, fusion, tau, cfg.to_dict())
    save_checkpoint(out, ckpt, metrics)
    save_resolved(cfg, out / "config.json")
    write_model_card(out / "README.md", metrics, cfg)
    say(
        json.dumps(
            {
                k: metrics["speech"][k]
                for k in ("c", "casia_loso_macro_f1", "emodb_loso_macro_f1", "ece_loso")
            }
        )
    )
    return metrics


def _fusion(
    feats: CorpusFeatures,
    probs: dict[str, np.ndarray],
    y_idx: dict[str, np.ndarray],
    text: TextEmotionModel,
    casia_spk: list[str],
    tau: float,
) -> tuple[Fusion, dict[str, Any], dict[str, np.ndarray]]:
    """Fusion on CASIA (out-of-fold speech × text of the transcripts): the text weight from
    ``TEXT_WEIGHTS`` and the temperature by log-likelihood, its metrics (temperature
    cross-fitted per speaker) and the escalation flags of the fused neutral clips.

    CASIA reads the same emotion-neutral sentences in every emotion, so on it the text can
    only mislead; the smallest weight offered (0.25) keeps the words' evidence for real
    dialogue, where they carry the emotion ("气死我了")."""
    if not casia_spk:
        return Fusion(), {}, {}
    floor = Fusion().text_floor
    logs_s, logs_t, ys = {}, {}, {}
    for s in casia_spk:
        m = feats.speaker == s
        tp = text.predict_proba(list(feats.transcript[m]))
        logs_t[s] = np.log((1 - floor) * tp + floor / tp.shape[1])
        logs_s[s] = np.log(np.maximum(probs[s], 1e-12))
        ys[s] = y_idx[s]
    y_all = np.concatenate([ys[s] for s in casia_spk])
    best: tuple[float, float, float] = (np.inf, 1.0, 1.0)
    for w in TEXT_WEIGHTS:
        z = np.concatenate([logs_s[s] + w * logs_t[s] for s in casia_spk])
        t = ev.fit_temperature(z, y_all)
        nll = float(-ev.log_softmax(z / t)[np.arange(len(y_all)), y_all].mean())
        if nll < best[0]:
            best = (nll, w, t)
    _, w, t = best
    fusion = Fusion(text_weight=w, temperature=t)
    per = {s: logs_s[s] + w * logs_t[s] for s in casia_spk}
    fused, _ = ev.cross_fitted_probs(per, ys)
    fp = np.concatenate([fused[s] for s in casia_spk])
    labels = sorted(set(y_all.tolist()))
    flags = {
        s: ev.confident_negative(
            fused[s][feats.emotion[feats.speaker == s] == "neutral"], tau, max(tau, 0.6)
        )
        for s in casia_spk
    }
    return (
        fusion,
        {
            "macro_f1": ev.macro_f1(y_all, fp.argmax(1), labels),
            "ece": ev.ece(fp, y_all),
            "temperature": t,
            "text_weight": w,
            "note": "CASIA sentences are emotionally neutral texts read in every emotion: the "
            "text adds little here; fusion is checked for calibration, not for a text gain",
        },
        flags,
    )


def _text_neutral_flags(
    text: TextEmotionModel, shared_dir: Path, tau: float, min_conf: float
) -> dict[str, Any]:
    """Escalation flags of SMP2020 usual-dev neutral posts (turn rate and 3-turn sessions)."""
    try:
        texts, labels = smp_split(shared_dir, "usual_dev")
    except FileNotFoundError:
        return {}
    neutral = [t for t, lab in zip(texts, labels, strict=True) if lab == "neutral"]
    p = text.predict_proba(neutral)
    flags = ev.confident_negative(p, tau, min_conf)
    return {
        "text_neutral_turn_rate": float(flags.mean()),
        "text_neutral_sessions": ev.false_escalation_rate({"smp": flags}, ESCALATION_TURNS),
        "text_neutral_posts": len(neutral),
    }
