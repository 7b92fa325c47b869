"""A short real training run (CPED text + real speech clips) lowers the loss, writes a loadable
checkpoint with its config and metrics, evaluates every epoch, and resumes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.checkpoint import load_inference_checkpoint
from tingshuo.joint_training.config import load_train_config
from tingshuo.joint_training.manifest import ManifestRecord, write_manifest
from tingshuo.joint_training.train_bridge import train_bridge

pytestmark = pytest.mark.slow  # trains or loads real models: not in the fast loop


def speech_manifest(asr_dev: Path, out: Path) -> Path:
    """The asr-dev clips with their transcripts as speech+text pairs (read speech: neutral)."""
    with (asr_dev / "transcripts.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    records = [
        ManifestRecord(
            id=f"dev-{i}",
            audio=str(asr_dev / "wav" / r["file"]),
            text=r["transcript"],
            emotion=Emotion.NEUTRAL,
            speaker=r["file"].split("_")[0],
            split="valid" if i % 4 == 0 else "train",
        )
        for i, r in enumerate(rows)
    ]
    return write_manifest(out, records)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, asr_dev: Path) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("bridge")
    manifest = speech_manifest(asr_dev, base / "speech.jsonl")
    cfg = load_train_config(
        None,
        {
            "out_dir": str(base / "run"),
            "cache_dir": str(base / "cache"),
            "manifests": [str(manifest)],
            "max_text_rows": 800,
            "epochs": 3,
            "batch_size": 128,
            "pair_batch_size": 8,
            "lr": 3e-3,
            "dims": {"ngram_buckets": 1024, "ngram_dim": 16, "hidden": 32, "shared": 16},
        },
    )
    metrics = train_bridge(cfg, progress=False)
    return base / "run", metrics


def test_loss_goes_down_and_every_epoch_is_evaluated(run: tuple[Path, dict]) -> None:
    out, _ = run
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    losses = [h["train"]["loss"] for h in history]
    assert losses[-1] < losses[0]
    for h in history:
        assert 0.0 <= h["text"]["macro_f1"] <= 1.0
        assert set(h["text"]["per_class_f1"]) == {e.value for e in Emotion}
        assert {"recall@1", "recall@5"} <= set(h["retrieval"])
        assert h["train"]["contrastive"] > 0  # the speech↔text loss took part


def test_checkpoint_loads_with_config_metrics_and_plots(run: tuple[Path, dict]) -> None:
    out, metrics = run
    for name in (
        "model.pt",
        "config.json",
        "metrics.json",
        "confusion_text.png",
        "checkpoint-last.pt",
    ):
        assert (out / name).is_file(), name
    assert json.loads((out / "config.json").read_text())["epochs"] == 3
    model = load_inference_checkpoint(out)
    assert model.dims.shared == 16
    assert metrics["epoch"] >= 1
    assert (out / "confusion_text.png").read_bytes()[:4] == b"\x89PNG"


def test_resume_continues_from_the_last_epoch(run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = run
    cfg = load_train_config(None, json.loads((out / "config.json").read_text()) | {"epochs": 4})
    train_bridge(cfg, resume=True, progress=False)
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4]
