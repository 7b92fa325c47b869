"""The bridge's inference checkpoint: a folder with ``model.pt``, ``config.json``, ``metrics.json``.

``model.pt`` holds only tensors and plain values (loaded with ``weights_only=True``):
the network dims, the state dict (float32), the emotion order and the feature version it
was trained with. ``config.json`` is the resolved training config.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch

from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.bridge_model import BridgeDims, BridgeModel
from tingshuo.dialog.prosody import FEATURE_NAMES
from tingshuo.dialog.text_features import ENCODER_NAME

CHECKPOINT_FORMAT = 1
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "bridge-default"


class CheckpointError(ValueError):
    """A bridge checkpoint folder that is missing, incomplete or incompatible."""


def save_inference_checkpoint(
    out_dir: Path, model: BridgeModel, config: dict[str, Any], metrics: dict[str, Any]
) -> Path:
    """Write ``model.pt`` (atomically), ``config.json`` and ``metrics.json`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "dims": dataclasses.asdict(model.dims),
        "state_dict": {k: v.detach().clone().float() for k, v in model.state_dict().items()},
        "emotions": [e.value for e in EMOTIONS],
        "text_encoder": ENCODER_NAME,
        "prosody_features": list(FEATURE_NAMES),
    }
    tmp = out_dir / "model.pt.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, out_dir / "model.pt")
    (out_dir / "config.json").write_text(
        json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    return out_dir


def load_inference_checkpoint(path: str | Path | None = None) -> BridgeModel:
    """Load a checkpoint folder (or its ``model.pt``); default: the packaged checkpoint."""
    p = Path(path).expanduser() if path else DEFAULT_CHECKPOINT
    file = p / "model.pt" if p.is_dir() else p
    if not file.is_file():
        raise CheckpointError(
            f"bridge checkpoint not found: {file} (train one with `tingshuo train bridge`, "
            "or leave dialog.bridge_checkpoint empty for the packaged default)"
        )
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt files
        raise CheckpointError(f"cannot read bridge checkpoint {file}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{file}: not a bridge checkpoint of format {CHECKPOINT_FORMAT}")
    if payload.get("emotions") != [e.value for e in EMOTIONS]:
        raise CheckpointError(
            f"{file}: trained on a different emotion set {payload.get('emotions')}"
        )
    if payload.get("text_encoder") != ENCODER_NAME or payload.get("prosody_features") != list(
        FEATURE_NAMES
    ):
        raise CheckpointError(
            f"{file}: trained with other features ({payload.get('text_encoder')}); retrain it"
        )
    model = BridgeModel(BridgeDims(**payload["dims"]))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return model
