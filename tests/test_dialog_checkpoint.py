"""Checkpoint save/load and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tingshuo.dialog.bridge_model import BridgeDims, BridgeModel
from tingshuo.dialog.checkpoint import (
    DEFAULT_CHECKPOINT,
    CheckpointError,
    load_inference_checkpoint,
    save_inference_checkpoint,
)


def test_round_trip(tmp_path: Path) -> None:
    model = BridgeModel(BridgeDims(ngram_buckets=64, ngram_dim=4, hidden=8, shared=4))
    model.temperature[:] = torch.tensor([1.5, 2.0, 0.9])
    save_inference_checkpoint(tmp_path, model, {"epochs": 1}, {"epoch": 1})
    loaded = load_inference_checkpoint(tmp_path)
    assert loaded.dims == model.dims
    assert torch.equal(loaded.temperature, model.temperature)
    assert not loaded.training


def test_packaged_default_is_small_and_complete() -> None:
    for name in ("model.pt", "config.json", "metrics.json", "README.md"):
        assert (DEFAULT_CHECKPOINT / name).is_file(), name
    assert (DEFAULT_CHECKPOINT / "model.pt").stat().st_size <= 5_000_000
    load_inference_checkpoint(None)


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_inference_checkpoint(tmp_path / "none")
    (tmp_path / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_inference_checkpoint(tmp_path)
    torch.save({"format": 99}, tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="format"):
        load_inference_checkpoint(tmp_path)
