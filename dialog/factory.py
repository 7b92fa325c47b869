"""Build the configured emotion bridge and reply policy (the agreed entry points)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from tingshuo.dialog.text_features import SentenceEncoder

if TYPE_CHECKING:
    from tingshuo.dialog.bridge import TrainedBridge
    from tingshuo.dialog.config import DialogConfig
    from tingshuo.dialog.empathy import EmpathyMap
    from tingshuo.dialog.policy import EmpatheticPolicy

POLICIES: tuple[str, ...] = ("kb", "chat", "echo")


class UnknownPolicyError(ValueError):
    """A ``dialog.policy`` name that does not exist."""


@functools.lru_cache(maxsize=4)
def shared_encoder(threads: int = 2) -> SentenceEncoder:
    """One sentence encoder per process (the bridge and the knowledge base share it)."""
    return SentenceEncoder(threads=threads)


def build_empathy(d: DialogConfig, min_confidence: float | None = None) -> EmpathyMap:
    """The configured empathy map (built-in defaults, or ``dialog.empathy_map`` YAML).

    ``min_confidence`` (the bridge's threshold) applies when ``dialog.bridge.min_confidence``
    is negative (its default: use the threshold the checkpoint was calibrated with).
    """
    from tingshuo.dialog.empathy import EmpathyMap

    floor = d.bridge.min_confidence
    if floor < 0:
        floor = min_confidence if min_confidence is not None else 0.0
    if d.empathy_map:
        return EmpathyMap.from_file(d.empathy_map, floor)
    return EmpathyMap(min_confidence=floor)


def build_bridge(d: DialogConfig) -> TrainedBridge:
    """Load the bridge checkpoint (``dialog.bridge_checkpoint``, default: the packaged one).

    Raises :class:`tingshuo.dialog.checkpoint.CheckpointError` when it is missing or
    incompatible.
    """
    from dataclasses import replace

    from tingshuo.dialog.bridge import TrainedBridge
    from tingshuo.dialog.checkpoint import load_checkpoint

    encoder = shared_encoder(d.bridge.text_threads)
    ckpt = load_checkpoint(d.bridge_checkpoint or None, text_encoder=encoder.encode)
    if d.bridge.min_confidence >= 0:
        ckpt = replace(ckpt, min_confidence=d.bridge.min_confidence)
    return TrainedBridge(ckpt, build_empathy(d, ckpt.min_confidence), fuse=d.bridge.fuse)


def build_policy(d: DialogConfig) -> EmpatheticPolicy:
    """The reply policy named by ``dialog.policy`` (kb | chat | echo)."""
    from tingshuo.dialog.chat_backend import ChatBackend
    from tingshuo.dialog.knowledge_base import KnowledgeBase
    from tingshuo.dialog.policy import ChatPolicy, EchoPolicy, Escalation, KnowledgeBasePolicy

    name = d.policy.strip().lower()
    if name not in POLICIES:
        raise UnknownPolicyError(
            f"unknown dialog policy {d.policy!r}; expected one of: {', '.join(POLICIES)}"
        )
    empathy = build_empathy(d)
    escalation = Escalation(
        d.escalate_after_angry_turns, d.escalation_min_confidence, d.handoff_message
    )
    if name == "echo":
        return EchoPolicy(empathy, escalation)
    kb = KnowledgeBase.from_file(
        d.knowledge_base or None, shared_encoder(d.bridge.text_threads), d.kb_threshold
    )
    kb_policy = KnowledgeBasePolicy(kb, empathy, escalation)
    if name == "kb":
        return kb_policy
    return ChatPolicy(
        ChatBackend.from_config(d.chat),
        kb_policy,
        d.chat.system_prompt,
        empathy,
        escalation,
        stream=d.chat.stream,
    )
