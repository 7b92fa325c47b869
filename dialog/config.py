"""Dialogue config section (``[dialog]`` in the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatConfig:
    """OpenAI-compatible chat endpoint; the key is read from the env var named here."""

    base_url: str = ""
    model: str = ""
    api_key_env: str = "TINGSHUO_CHAT_API_KEY"
    timeout_s: float = 8.0


@dataclass(frozen=True)
class DialogConfig:
    """Emotion bridge and reply policy."""

    policy: str = "kb"  # kb | chat | echo
    bridge_checkpoint: str = ""  # empty: the packaged default checkpoint
    knowledge_base: str = ""  # empty: the packaged customer-service example
    memory_turns: int = 8
    escalate_after_angry_turns: int = 3
    chat: ChatConfig = field(default_factory=ChatConfig)
