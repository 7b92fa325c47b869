"""Evaluation pieces of the bridge: leave-one-speaker-out, calibration, thresholds, plots.

Shared by ``tingshuo train bridge`` and ``benchmarks/emotion.py``. Macro-F1 is scikit-learn's;
the expected calibration error uses 10 equal-width bins of the top-class probability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.core.emotions import EMOTIONS

CANONICAL: tuple[str, ...] = tuple(e.value for e in EMOTIONS)
NEGATIVE_ESCALATING: tuple[str, ...] = ("angry", "hate")
ECE_BINS = 10


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax."""
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    return np.exp(log_softmax(z))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of ``y`` (bounded 0.05–20)."""
    from scipy.optimize import minimize_scalar

    z = np.where(np.isfinite(logits), logits, -1e4)

    def nll(t: float) -> float:
        return float(-log_softmax(z / t)[np.arange(len(y)), y].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def ece(probs: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top-class probability."""
    conf = probs.max(1)
    right = probs.argmax(1) == y
    total = 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += m.mean() * abs(right[m].mean() - conf[m].mean())
    return float(total)


def macro_f1(y: np.ndarray, pred: np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Macro-F1 over ``labels`` (class indices)."""
    from sklearn.metrics import f1_score

    return float(f1_score(y, pred, labels=list(labels), average="macro", zero_division=0))


def index(names: Sequence[str]) -> np.ndarray:
    """Canonical class indices of emotion names."""
    return np.array([CANONICAL.index(str(n)) for n in names])


def fit_head(x: np.ndarray, y: Sequence[str] | np.ndarray, c: float, seed: int = 0) -> Any:
    """Class-balanced multinomial logistic regression (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed).fit(
        x, np.asarray(y)
    )


def canonical_logits(clf: Any, x: np.ndarray) -> np.ndarray:
    """Decision values in canonical column order; classes the model lacks get -inf."""
    raw = clf.decision_function(x)
    out = np.full((len(x), len(CANONICAL)), -np.inf)
    for j, c in enumerate(clf.classes_):
        out[:, CANONICAL.index(str(c))] = raw[:, j]
    return out


def loso_logits(
    x: np.ndarray,
    y: np.ndarray,
    speakers: np.ndarray,
    c: float,
    test_speakers: Sequence[str] | None = None,
    train_mask: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Out-of-fold canonical logits of each test speaker from a model trained without them."""
    out = {}
    base = np.ones(len(y), bool) if train_mask is None else train_mask
    for s in test_speakers if test_speakers is not None else sorted(set(speakers)):
        train = base & (speakers != s)
        out[str(s)] = canonical_logits(fit_head(x[train], y[train], c), x[speakers == s])
    return out


def cross_fitted_probs(
    logits: dict[str, np.ndarray], y_by_speaker: dict[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], float]:
    """Calibrated OOF probabilities: speaker s scaled by a temperature fitted on the others.

    Returns the probabilities and the temperature fitted on all speakers (for the model).
    """
    names = list(logits)
    probs = {}
    for s in names:
        others = [o for o in names if o != s] or names
        t = fit_temperature(
            np.concatenate([logits[o] for o in others]),
            np.concatenate([y_by_speaker[o] for o in others]),
        )
        probs[s] = softmax(np.where(np.isfinite(logits[s]), logits[s], -1e4) / t)
    t_all = fit_temperature(
        np.concatenate(list(logits.values())), np.concatenate(list(y_by_speaker.values()))
    )
    return probs, t_all


def choose_threshold(probs: np.ndarray, y: np.ndarray, target: float) -> float:
    """Lowest confidence τ (grid 0.30–0.90) at which predictions with max-p ≥ τ are right ≥ target."""
    conf, right = probs.max(1), probs.argmax(1) == y
    for tau in np.round(np.arange(0.30, 0.901, 0.05), 2):
        kept = conf >= tau
        if kept.sum() >= 10 and right[kept].mean() >= target:
            return float(tau)
    return 0.9


def confident_negative(probs: np.ndarray, tau: float, min_conf: float) -> np.ndarray:
    """Turns that count toward escalation: top class angry/hate at ≥ max(τ, min_conf)."""
    neg = np.isin(probs.argmax(1), index(NEGATIVE_ESCALATING))
    return neg & (probs.max(1) >= max(tau, min_conf))


def false_escalation_rate(
    flags_by_speaker: dict[str, np.ndarray], turns: int, draws: int = 2000, seed: int = 0
) -> float:
    """Share of simulated sessions of ``turns`` neutral utterances (one speaker each, random
    order) in which every turn counts toward escalation — the policy's hand-off rule."""
    rng = np.random.default_rng(seed)
    names = [s for s, f in flags_by_speaker.items() if len(f) >= turns]
    if not names:
        return 0.0
    hits = 0
    for _ in range(draws):
        f = flags_by_speaker[names[rng.integers(len(names))]]
        hits += bool(f[rng.choice(len(f), turns, replace=False)].all())
    return hits / draws


def plot_confusion(
    y: np.ndarray, pred: np.ndarray, labels: Sequence[int], title: str, path: Path
) -> None:
    """Row-normalised confusion matrix PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import confusion_matrix

    names = [CANONICAL[i] for i in labels]
    cols = sorted(set(labels) | set(int(p) for p in pred))
    cm = confusion_matrix(y, pred, labels=cols).astype(float)
    rows = [cols.index(i) for i in labels]
    cm = cm[rows]
    cm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(cols), 1.0 + 0.7 * len(names)))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), [CANONICAL[i] for i in cols], rotation=45)
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(cols)):
            ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_reliability(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, bins: int = ECE_BINS
) -> None:
    """Reliability diagram: accuracy against confidence per bin, one line per name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k:", lw=1)
    edges = np.linspace(0, 1, bins + 1)
    for name, (probs, y) in curves.items():
        conf, right = probs.max(1), probs.argmax(1) == y
        xs, ys = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            m = (conf > lo) & (conf <= hi)
            if m.sum() >= 5:
                xs.append(conf[m].mean())
                ys.append(right[m].mean())
        ax.plot(xs, ys, "o-", label=f"{name} (ECE {ece(probs, y):.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(
    xs: Sequence[float],
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    path: Path,
    log_x: bool = True,
) -> None:
    """Line plot of several metrics against one swept value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, ys in series.items():
        ax.plot(xs, ys, "o-", label=name)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


Logger = Callable[[str], None]
