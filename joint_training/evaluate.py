"""Evaluation of the bridge: macro/per-class F1, confusion matrices, retrieval, calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix, f1_score

from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.bridge_model import BridgeModel
from tingshuo.joint_training.features import FeatureTable

LABELS = list(range(len(EMOTIONS)))
NAMES = [e.value for e in EMOTIONS]


def text_batch(table: FeatureTable, idx: np.ndarray) -> dict[str, torch.Tensor]:
    """Tensors of the text branch for rows ``idx`` (n-grams as EmbeddingBag ids + offsets)."""
    grams = [table.ngrams[i] for i in idx]
    lengths = np.asarray([len(g) for g in grams], dtype=np.int64)
    offsets = (
        np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(grams) else np.zeros(0, np.int64)
    )
    flat = np.concatenate(grams) if grams else np.zeros(0, np.int64)
    return {
        "embed": torch.from_numpy(np.ascontiguousarray(table.embed[idx])),
        "ngrams": torch.from_numpy(flat.astype(np.int64)),
        "offsets": torch.from_numpy(offsets.astype(np.int64)),
        "label": torch.from_numpy(table.labels[idx]),
    }


def pair_batch(table: FeatureTable, idx: np.ndarray) -> dict[str, torch.Tensor]:
    """:func:`text_batch` plus the prosodic features of the same rows."""
    batch = text_batch(table, idx)
    batch["prosody"] = torch.from_numpy(np.ascontiguousarray(table.prosody[idx]))
    return batch


@torch.no_grad()
def embeddings(
    model: BridgeModel, table: FeatureTable, modality: str, chunk: int = 2048
) -> torch.Tensor:
    """Shared-space vectors of every row for ``modality`` ('text' or 'speech')."""
    model.eval()
    out = []
    for start in range(0, len(table), chunk):
        idx = np.arange(start, min(start + chunk, len(table)))
        if modality == "text":
            b = text_batch(table, idx)
            out.append(model.embed_text(b["embed"], b["ngrams"], b["offsets"]))
        else:
            out.append(model.embed_speech(torch.from_numpy(table.prosody[idx])))
    return torch.cat(out) if out else torch.zeros(0, model.dims.shared)


@torch.no_grad()
def logits(model: BridgeModel, table: FeatureTable, modality: str) -> torch.Tensor:
    """Uncalibrated class logits ('text', 'speech' or 'fused')."""
    if modality == "fused":
        t = model.temperature
        return logits(model, table, "text") / t[0] + logits(model, table, "speech") / t[1]
    return model.class_logits(embeddings(model, table, modality), 0 if modality == "text" else 1)


def fit_temperature(raw: torch.Tensor, labels: torch.Tensor, steps: int = 100) -> float:
    """The temperature minimising NLL of ``raw / T`` on held-out rows (LBFGS on log T)."""
    if len(labels) == 0:
        return 1.0
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(raw / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width confidence bins."""
    conf = probs.max(1)
    correct = probs.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(ece)


def classification_metrics(
    pred: np.ndarray, labels: np.ndarray, probs: np.ndarray | None = None
) -> dict[str, Any]:
    """Macro-F1, per-class F1, accuracy and the confusion matrix (rows = truth)."""
    per_class = f1_score(labels, pred, labels=LABELS, average=None, zero_division=0)
    present = [i for i in LABELS if (labels == i).any()]
    out: dict[str, Any] = {
        "n": int(len(labels)),
        "macro_f1": float(f1_score(labels, pred, labels=present, average="macro", zero_division=0)),
        "accuracy": float((pred == labels).mean()) if len(labels) else 0.0,
        "per_class_f1": {NAMES[i]: round(float(per_class[i]), 4) for i in LABELS},
        "confusion": confusion_matrix(labels, pred, labels=LABELS).tolist(),
    }
    if probs is not None and len(labels):
        out["ece"] = expected_calibration_error(probs, labels)
    return out


@torch.no_grad()
def retrieval_recall(
    model: BridgeModel, table: FeatureTable, texts: list[str], ks: tuple[int, ...] = (1, 5)
) -> dict[str, float]:
    """Speech→text recall@k: does the utterance's own text rank in the top k of all distinct texts?"""
    if len(table) == 0:
        return {f"recall@{k}": 0.0 for k in ks}
    unique = sorted(set(texts))
    first = {t: texts.index(t) for t in unique}
    zs = embeddings(model, table, "speech")
    zt = embeddings(model, table, "text")[[first[t] for t in unique]]
    sims = model.pair_logits(zs, zt)
    target = torch.tensor([unique.index(t) for t in texts])
    rank = (sims > sims[torch.arange(len(texts)), target][:, None]).sum(1)
    return {f"recall@{k}": float((rank < k).float().mean()) for k in ks}


def evaluate_modality(
    model: BridgeModel, table: FeatureTable, modality: str, temperature: float = 1.0
) -> dict[str, Any]:
    """Metrics of one modality on ``table`` (rows without audio are skipped for speech/fused)."""
    if modality != "text":
        table = table.subset(table.has_audio)
    if len(table) == 0:
        return {"n": 0}
    raw = logits(model, table, modality)
    probs = torch.softmax(raw / temperature, dim=-1).numpy()
    return classification_metrics(probs.argmax(1), table.labels, probs)


def plot_confusion(matrix: list[list[int]], title: str, path: Path) -> Path:
    """Save a row-normalised confusion matrix as PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix, dtype=float)
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.5, 4.8), dpi=100)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(LABELS, NAMES, rotation=45, ha="right")
    ax.set_yticks(LABELS, NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in LABELS:
        for j in LABELS:
            ax.text(
                j,
                i,
                str(int(m[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
