"""The text model of the bridge: SMP2020-EWECT (+ CPED) training, USE embeddings cached.

Label maps are :mod:`tingshuo.dialog.text_emotion`'s (SMP2020 one-to-one; CPED 13 → 7).
Evaluation sets (SMP2020 usual/virus dev, CPED test) are never trained on.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.dialog import text_emotion as te
from tingshuo.joint_training import bridge_eval as ev
from tingshuo.joint_training.config import BridgeTrainConfig

Encoder = Callable[[list[str]], np.ndarray]
EVAL_SETS: tuple[str, ...] = ("usual_dev", "virus_dev", "cped_test")


def smp_split(shared_dir: Path, name: str) -> tuple[list[str], list[str]]:
    """(texts, canonical labels) of an SMP2020-EWECT split (``usual_dev``, ``virus_train`` …)."""
    return te.read_smp(shared_dir / "eval" / "emotion-text" / "smp2020-ewect" / f"{name}.tsv")


def text_split(shared_dir: Path, name: str) -> tuple[list[str], list[str]]:
    """SMP2020 splits by name, ``cped_valid`` / ``cped_test`` for CPED."""
    if name.startswith("cped_"):
        part = "valid_split.csv" if name == "cped_valid" else "test_split.csv"
        return te.read_cped(shared_dir / "eval" / "emotion-text" / part)
    return smp_split(shared_dir, name)


def embed_cached(texts: list[str], cache_dir: Path, encoder: Encoder) -> np.ndarray:
    """USE embeddings of ``texts``, cached by content hash under ``<cache>/text-embeddings``."""
    digest = hashlib.sha1("\x00".join(texts).encode("utf-8")).hexdigest()[:16]
    path = cache_dir / "text-embeddings" / f"use-{digest}.npy"
    if path.is_file():
        return np.load(path)
    out = np.concatenate([encoder(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out.astype(np.float32))
    return out


def evaluate_text(
    model: te.TextEmotionModel, shared_dir: Path, cache_dir: Path, encoder: Encoder | None
) -> dict[str, Any]:
    """Macro-F1 (six SMP classes; CPED hate rows left out) and ECE on the evaluation sets."""
    six = list(ev.index(te.SMP_LABELS))
    out: dict[str, Any] = {}
    for name in EVAL_SETS:
        try:
            texts, labels = text_split(shared_dir, name)
        except FileNotFoundError:
            continue
        emb = embed_cached(texts, cache_dir, encoder) if encoder and model.has_use else None
        p = model.predict_proba(texts, embeddings=emb)
        y = ev.index(labels)
        m = np.isin(y, six)
        out[name] = {
            "macro_f1_6": round(ev.macro_f1(y[m], p[m].argmax(1), six), 4),
            "ece": round(ev.ece(p[m], y[m]), 4),
            "n": int(m.sum()),
        }
    return out


def load_or_train_text_model(
    cfg: BridgeTrainConfig,
    shared_dir: Path,
    cache_dir: Path,
    encoder: Encoder | None,
    say: Callable[[str], None] = print,
) -> te.TextEmotionModel:
    """``cfg.text_model`` when set (copied as is), else trained on SMP2020 (+ CPED valid)."""
    if cfg.text_model:
        model = te.TextEmotionModel.load(Path(cfg.text_model).expanduser(), encoder=encoder)
        say(f"text model reused from {cfg.text_model}")
        return model
    start = time.perf_counter()
    names = ["usual_train", "virus_train"] + (["cped_valid"] if cfg.text_cped else [])
    parts = [text_split(shared_dir, n) for n in names]
    texts = [t for p in parts for t in p[0]]
    labels = [lab for p in parts for lab in p[1]]
    use = encoder if cfg.text_use else None
    emb = (
        np.concatenate([embed_cached(p[0], cache_dir, use) for p in parts])
        if use is not None
        else None
    )  # per split, so each split's embeddings are cached (and reused by evaluation) once
    # The hold-out (temperatures, mix, biases) is drawn from usual_train only: the figure that
    # matters is Weibo usual; virus_train (and CPED) are training rows only.
    pool = np.arange(len(texts)) < len(parts[0][0])
    model = te.train(texts, labels, embeddings=emb, holdout_pool=pool, seed=cfg.seed, log=say)
    model.encoder = use
    metrics = evaluate_text(model, shared_dir, cache_dir, use)
    model.meta = {
        **model.meta,
        "trained_on": names,
        "metrics": metrics,
        "fit_seconds": round(time.perf_counter() - start, 1),
        "label_map_cped": te.CPED_TO_CANONICAL,
        "zero_probability_classes": [c for c in te.CANONICAL if c not in model.classes],
    }
    say(f"text model: {metrics}")
    return model


def copy_text_model(src: Path, dst: Path) -> None:
    """Copy a text model's files."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in te.FILES:
        shutil.copyfile(src / name, dst / name)
