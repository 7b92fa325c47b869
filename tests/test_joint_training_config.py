"""Training config: TOML < overrides, unknown keys rejected, the packaged default parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.core.paths import repo_root
from tingshuo.joint_training.config import TrainConfigError, load_train_config


def test_default_config_parses() -> None:
    cfg = load_train_config(repo_root() / "joint_training" / "configs" / "bridge-default.toml")
    assert cfg.out_dir == "dialog/checkpoints/bridge-default"
    assert cfg.text_init == "logreg" and cfg.dims.shared == 64 and not cfg.dims.cosine


def test_overrides_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("epochs = 3\n[dims]\nshared = 8\n", encoding="utf-8")
    cfg = load_train_config(path, {"epochs": 5, "dims": {"hidden": 4}})
    assert cfg.epochs == 5 and cfg.dims.shared == 8 and cfg.dims.hidden == 4
    path.write_text("cped = 3\n", encoding="utf-8")
    with pytest.raises(TrainConfigError, match="true/false"):
        load_train_config(path)
    path.write_text("[dims]\nwidth = 3\n", encoding="utf-8")
    with pytest.raises(TrainConfigError, match="width"):
        load_train_config(path)
    with pytest.raises(TrainConfigError, match="not found"):
        load_train_config(tmp_path / "none.toml")
