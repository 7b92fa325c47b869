"""Evaluation helpers: metrics, temperature scaling, confusion PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tingshuo.joint_training import evaluate as ev


def test_classification_metrics_and_confusion() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    m = ev.classification_metrics(pred, labels)
    assert m["n"] == 6 and abs(m["accuracy"] - 4 / 6) < 1e-9
    assert m["confusion"][0][:3] == [1, 1, 0]
    assert m["per_class_f1"]["happy"] == 0.8  # class 1: P=2/3, R=1
    assert 0 < m["macro_f1"] < 1


def test_temperature_scaling_softens_overconfident_logits() -> None:
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 7, (400,), generator=gen)
    logits = torch.randn(400, 7, generator=gen) * 10  # confident and mostly wrong
    logits[torch.arange(200), labels[:200]] += 12  # half right
    t = ev.fit_temperature(logits, labels)
    assert t > 1.5
    nll = torch.nn.functional.cross_entropy
    assert nll(logits / t, labels) < nll(logits, labels)
    probs = torch.softmax(logits / t, -1).numpy()
    raw = torch.softmax(logits, -1).numpy()
    assert ev.expected_calibration_error(probs, labels.numpy()) < ev.expected_calibration_error(
        raw, labels.numpy()
    )


def test_confusion_png(tmp_path: Path) -> None:
    path = ev.plot_confusion(np.eye(7, dtype=int).tolist(), "t", tmp_path / "c.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
