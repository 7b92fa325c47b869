"""Training config: TOML < overrides, unknown keys rejected, the packaged default parses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.core.paths import repo_root
from tingshuo.joint_training.config import TrainConfigError, load_train_config


def test_default_config_parses_and_writes_outside_the_package() -> None:
    cfg = load_train_config(repo_root() / "joint_training" / "configs" / "bridge-default.toml")
    assert cfg.out_dir == "runs/bridge"  # the package is written only with --out
    assert cfg.corpora == ("casia-2spk", "emodb") and not cfg.text_cped  # SMP-only: < 5 MB


def test_overrides_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('prosody_c = 3\ncorpora = ["emodb"]\n', encoding="utf-8")
    cfg = load_train_config(path, {"out_dir": "x"})
    assert cfg.prosody_c == 3.0 and cfg.corpora == ("emodb",) and cfg.out_dir == "x"
    path.write_text("text_cped = 3\n", encoding="utf-8")
    with pytest.raises(TrainConfigError, match="true/false"):
        load_train_config(path)
    path.write_text("epochs = 3\n", encoding="utf-8")
    with pytest.raises(TrainConfigError, match="epochs"):
        load_train_config(path)
    with pytest.raises(TrainConfigError, match="not found"):
        load_train_config(tmp_path / "none.toml")
