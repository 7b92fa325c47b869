"""Training config of the emotion bridge (TOML file for ``tingshuo train bridge --config``).

Every field has a documented default; the resolved config is saved as ``config.json``
next to every checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tingshuo.dialog.bridge_model import BridgeDims


class TrainConfigError(ValueError):
    """A training config file that does not fit :class:`BridgeTrainConfig`."""


@dataclass(frozen=True)
class BridgeTrainConfig:
    """What data to train the bridge on, for how long, and where to write it."""

    out_dir: str = "runs/bridge"  # checkpoints, metrics, confusion matrices
    cache_dir: str = ""  # feature cache; empty: <tingshuo cache>/bridge-features
    cped: bool = True  # CPED text from ../shared/eval/emotion-text (train + dev; test never)
    cped_dev_series: tuple[str, ...] = ("45",)  # CPED series held out as the dev split
    manifests: tuple[str, ...] = ()  # extra jsonl manifests (generated speech, ESD, CASIA, ...)
    max_text_rows: int = 0  # cap on CPED training rows (0 = all); for quick runs
    epochs: int = 15
    batch_size: int = 256  # text rows per step (per process)
    pair_batch_size: int = 64  # speech+text pairs per step (per process)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    contrastive_weight: float = 1.0
    class_balance: bool = True  # inverse-frequency class weights (macro-F1 is the target)
    seed: int = 0
    threads: int = 1  # torch threads per process (1 is fastest on a busy 2-core machine)
    workers: int = 2  # processes for prosodic feature extraction
    text_init: str = (
        "random"  # random | logreg (warm start from a convex fit, joint_training/text_init.py)
    )
    text_init_c: float = 1.0  # inverse L2 strength of that fit
    text_lr_scale: float = 1.0  # learning-rate factor for the text branch after a warm start
    select_metric: str = "score"  # dev metric that picks the exported epoch (text+speech F1)
    dims: BridgeDims = field(default_factory=BridgeDims)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise TrainConfigError(f"unknown key(s) {sorted(unknown)} in {where}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise TrainConfigError(f"{where}.{key}: expected a table")
            kwargs[key] = _coerce(hint, value, f"{where}.{key}")  # type: ignore[arg-type]
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, list | tuple):
                raise TrainConfigError(f"{where}.{key}: expected a list")
            kwargs[key] = tuple(str(v) for v in value)
        elif hint in (int, float, str, bool):
            if hint is bool and not isinstance(value, bool):
                raise TrainConfigError(f"{where}.{key}: expected true/false, got {value!r}")
            try:
                kwargs[key] = hint(value)
            except (TypeError, ValueError):
                raise TrainConfigError(
                    f"{where}.{key}: expected {hint.__name__}, got {value!r}"
                ) from None
        else:
            kwargs[key] = value
    return cls(**kwargs)


def from_dict(data: dict[str, Any], where: str = "config") -> BridgeTrainConfig:
    """Build a config from a (TOML/JSON) mapping, rejecting unknown keys."""
    return _coerce(BridgeTrainConfig, dict(data), where)


def load_train_config(
    path: str | Path | None, overrides: dict[str, Any] | None = None
) -> BridgeTrainConfig:
    """Defaults < TOML file < ``overrides``; relative manifest paths resolve against the file."""
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise TrainConfigError(f"training config not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise TrainConfigError(f"{p}: {exc}") from None
        data.pop("command", None)  # documentation only
    if overrides:
        dims = {**data.get("dims", {}), **overrides.pop("dims", {})}
        data.update(overrides)
        if dims:
            data["dims"] = dims
    return from_dict(data, str(path or "overrides"))


def save_resolved(config: BridgeTrainConfig, path: Path) -> None:
    """Write the resolved config as JSON (next to a checkpoint)."""
    path.write_text(
        json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
