"""Training config of the emotion bridge (TOML file for ``tingshuo train bridge --config``).

Every field has a documented default; the resolved config is saved as ``config.json``
next to every checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TrainConfigError(ValueError):
    """A training config file that does not fit :class:`BridgeTrainConfig`."""


@dataclass(frozen=True)
class BridgeTrainConfig:
    """What data to train the bridge on and where to write it.

    Speech: the corpora of ``../shared/eval/emotion-speech`` (features cached under
    ``<cache>/bridge-features``). Text: SMP2020-EWECT usual + virus train (plus CPED's
    validation split with ``text_cped``), unless ``text_model`` names a trained text model.
    """

    out_dir: str = "runs/bridge"  # checkpoint, metrics, curves and confusion PNGs
    corpora: tuple[str, ...] = ("casia-2spk", "emodb")
    c_grid: tuple[str, ...] = ("0.0003", "0.001", "0.003", "0.01", "0.03", "0.1")  # LR inverse L2
    prosody_scales: tuple[str, ...] = ("1", "3")  # prosodic columns x this in the full head (swept)
    prosody_c: float = 0.1  # the prosody-only head's inverse L2
    prior_weight: float = 4.0  # turns the corpus statistics count as in a session baseline
    target_precision: float = 0.8  # the threshold keeps OOF predictions at least this right
    text_model: str = ""  # a trained text model folder to reuse; empty: train it here
    text_cped: bool = False  # also train the text model on CPED valid_split (adds hate; > 5 MB)
    text_use: bool = True  # the USE sentence-embedding branch of the text model
    seed: int = 0
    threads: int = 1  # BLAS threads (1 is fastest on a busy 2-core machine)

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
    """Defaults < TOML file < ``overrides``."""
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
        data.update(overrides)
    return from_dict(data, str(path or "overrides"))


def save_resolved(config: BridgeTrainConfig, path: Path) -> None:
    """Write the resolved config as JSON (next to a checkpoint)."""
    path.write_text(
        json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
