"""engine.services: a bridge checkpoint that cannot load fails the start-up, loudly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.engine_doubles import ScriptedRecognizer, ToneSynthesizer
from tingshuo.dialog.checkpoint import CheckpointError
from tingshuo.engine.config import EngineConfig
from tingshuo.engine.services import Services


def test_missing_bridge_checkpoint_fails_the_start_up(tmp_path: Path) -> None:
    base = EngineConfig()
    dialog = dataclasses.replace(base.dialog, bridge_checkpoint=str(tmp_path / "nope"))
    config = dataclasses.replace(base, dialog=dialog)
    with pytest.raises(CheckpointError, match="nope"):
        Services.load(config, recognizer=ScriptedRecognizer([]), synthesizer=ToneSynthesizer())
