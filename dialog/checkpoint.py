"""The bridge checkpoint: a folder of plain arrays and JSON (no pickle, no torch).

- ``speech.npz``: both speech heads (``full_*``: encoder states + prosody; ``prosody_*``)
  and the corpus statistics the per-speaker baselines start from;
- ``text_emotion.npz`` + ``text_emotion.json``: the text classifier
  (:mod:`tingshuo.dialog.text_emotion`);
- ``bridge.json``: classes, temperatures, fusion weights, the confidence threshold, the
  feature names and the training config; ``metrics.json`` and a model card ``README.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tingshuo.dialog.speech_emotion import (
    PROSODY_USED,
    CorpusStats,
    LinearHead,
    SpeechEmotionModel,
)
from tingshuo.dialog.text_emotion import TextEmotionModel

CHECKPOINT_FORMAT = 2
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "bridge-default"
ENCODER_MODEL = "whisper-base-ct2"  # the states the speech head reads


class CheckpointError(ValueError):
    """A bridge checkpoint folder that is missing, incomplete or incompatible."""


@dataclass(frozen=True)
class Fusion:
    """Weighted product of the calibrated speech and text distributions, then a temperature."""

    speech_weight: float = 1.0
    text_weight: float = 1.0
    temperature: float = 1.0
    text_floor: float = 0.02  # text probabilities are mixed with this much uniform mass


@dataclass
class BridgeCheckpoint:
    """Everything the bridge needs at inference time."""

    speech: SpeechEmotionModel
    text: TextEmotionModel
    fusion: Fusion = field(default_factory=Fusion)
    min_confidence: float = 0.5  # below: reported as neutral, uncertain
    config: dict[str, Any] = field(default_factory=dict)


def _head_arrays(prefix: str, head: LinearHead) -> dict[str, np.ndarray]:
    return {
        f"{prefix}_coef": head.coef.astype(np.float32),
        f"{prefix}_intercept": head.intercept.astype(np.float32),
    }


def save_checkpoint(
    out_dir: Path, ckpt: BridgeCheckpoint, metrics: dict[str, Any] | None = None
) -> Path:
    """Write the checkpoint folder (files replaced atomically one by one)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    s = ckpt.speech
    arrays = {
        **_head_arrays("full", s.full),
        **_head_arrays("prosody", s.prosody_only),
        "prosody_prior_mean": s.prosody_prior.mean.astype(np.float32),
        "prosody_prior_var": s.prosody_prior.var.astype(np.float32),
        "encoder_prior_mean": s.encoder_prior.mean.astype(np.float32),
        "encoder_prior_var": s.encoder_prior.var.astype(np.float32),
    }
    tmp = out_dir / "speech.tmp.npz"
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, out_dir / "speech.npz")
    ckpt.text.save(out_dir)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "encoder_model": ENCODER_MODEL,
        "prosody_features": list(PROSODY_USED),
        "full_classes": list(s.full.classes),
        "prosody_classes": list(s.prosody_only.classes),
        "temperatures": {
            "full": s.full.temperature,
            "prosody": s.prosody_only.temperature,
        },
        "prior_weight": s.prior_weight,
        "fusion": ckpt.fusion.__dict__,
        "min_confidence": ckpt.min_confidence,
        "config": ckpt.config,
    }
    (out_dir / "bridge.json").write_text(
        json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    if metrics is not None:
        (out_dir / "metrics.json").write_text(
            json.dumps(metrics, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return out_dir


def load_checkpoint(path: str | Path | None = None, text_encoder: Any = None) -> BridgeCheckpoint:
    """Load a checkpoint folder (default: the packaged one).

    ``text_encoder`` (``list[str] -> (n, 512)``, the engine's shared USE encoder) feeds the
    text classifier's sentence-embedding branch; without it that branch is skipped.
    Raises :class:`CheckpointError` when files are missing or were made for other features.
    """
    d = Path(path).expanduser() if path else DEFAULT_CHECKPOINT
    meta_file = d / "bridge.json"
    if not meta_file.is_file():
        raise CheckpointError(
            f"bridge checkpoint not found: {meta_file} (train one with `tingshuo train bridge`, "
            "or leave dialog.bridge_checkpoint empty for the packaged default)"
        )
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{d}: not a bridge checkpoint of format {CHECKPOINT_FORMAT}")
        if meta.get("prosody_features") != list(PROSODY_USED):
            raise CheckpointError(f"{d}: trained with other prosodic features; retrain it")
        with np.load(d / "speech.npz", allow_pickle=False) as z:
            a = {k: z[k].astype(np.float64) for k in z.files}
        temps = meta["temperatures"]
        speech = SpeechEmotionModel(
            full=LinearHead(
                a["full_coef"], a["full_intercept"], tuple(meta["full_classes"]), temps["full"]
            ),
            prosody_only=LinearHead(
                a["prosody_coef"],
                a["prosody_intercept"],
                tuple(meta["prosody_classes"]),
                temps["prosody"],
            ),
            prosody_prior=CorpusStats(a["prosody_prior_mean"], a["prosody_prior_var"]),
            encoder_prior=CorpusStats(a["encoder_prior_mean"], a["encoder_prior_var"]),
            prior_weight=float(meta["prior_weight"]),
        )
        text = TextEmotionModel.load(d, encoder=text_encoder)
    except CheckpointError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot read bridge checkpoint {d}: {exc}") from exc
    return BridgeCheckpoint(
        speech=speech,
        text=text,
        fusion=Fusion(**meta.get("fusion", {})),
        min_confidence=float(meta["min_confidence"]),
        config=meta.get("config", {}),
    )
