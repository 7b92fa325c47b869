"""Factories: policies by name, a configured empathy map, and clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import ReplyPolicy, UserEmotion
from tingshuo.dialog.checkpoint import CheckpointError
from tingshuo.dialog.config import DialogConfig
from tingshuo.dialog.factory import UnknownPolicyError, build_bridge, build_policy
from tingshuo.dialog.policy import ChatPolicy, EchoPolicy, KnowledgeBasePolicy


def _config(**dialog: object) -> DialogConfig:
    return dataclasses.replace(DialogConfig(), **dialog)  # type: ignore[arg-type]


def test_policies_by_name() -> None:
    assert isinstance(build_policy(_config(policy="echo")), EchoPolicy)
    kb = build_policy(_config(policy="kb"))
    assert isinstance(kb, KnowledgeBasePolicy) and isinstance(kb, ReplyPolicy)
    chat_cfg = dataclasses.replace(DialogConfig().chat, base_url="http://127.0.0.1:9/v1", model="m")
    assert isinstance(build_policy(_config(policy="chat", chat=chat_cfg)), ChatPolicy)
    with pytest.raises(UnknownPolicyError, match="kb, chat, echo"):
        build_policy(_config(policy="oracle"))


def test_configured_empathy_map_and_escalation(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text("happy: {emotion: neutral, intensity: 0.3}\n", encoding="utf-8")
    policy = build_policy(
        _config(policy="echo", empathy_map=str(path), escalate_after_angry_turns=1)
    )
    assert policy.respond([], "好", UserEmotion(Emotion.HAPPY, 0.9)).style.intensity == 0.3
    assert policy.respond([], "好", UserEmotion(Emotion.ANGRY, 0.9)).handoff


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        build_bridge(_config(bridge_checkpoint=str(tmp_path / "nope")))
