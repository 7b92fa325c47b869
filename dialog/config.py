"""Dialogue config section (``[dialog]`` in the TOML file)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatConfig:
    """OpenAI-compatible chat endpoint; the key is read from the env var named here."""

    base_url: str = ""  # e.g. http://127.0.0.1:8080/v1 ; env TINGSHUO_DIALOG__CHAT__BASE_URL
    model: str = ""
    api_key_env: str = "TINGSHUO_CHAT_API_KEY"
    timeout_s: float = 8.0
    max_tokens: int = 256
    # stream the completion (server-sent events) so synthesis starts at the reply's first
    # clause instead of after the whole answer; env TINGSHUO_DIALOG__CHAT__STREAM=false: off
    stream: bool = True
    system_prompt: str = (
        "你是一名耐心、礼貌的中文客服。回答简短（不超过三句话），口语化，适合语音播报。"
    )


@dataclass(frozen=True)
class BridgeConfig:
    """How the emotion bridge reads the user's emotion."""

    text_threads: int = 2  # numpy threads of the sentence encoder
    # below this calibrated probability the estimate is reported as neutral + uncertain;
    # negative: the threshold the checkpoint was calibrated with on development data
    min_confidence: float = -1.0
    fuse: bool = True  # fuse audio and text when both are given


@dataclass(frozen=True)
class DialogConfig:
    """Emotion bridge and reply policy."""

    policy: str = "kb"  # kb | chat | echo
    bridge_checkpoint: str = ""  # empty: the packaged default checkpoint
    knowledge_base: str = ""  # empty: the packaged customer-service example
    memory_turns: int = 8
    # the reply's first synthesis segment: its first clause(s) up to this many characters,
    # so the first audio is short to render or already in the synthesis cache (0: off)
    first_segment_chars: int = 14
    # at start-up, render the reply openings a session will need first (each knowledge-base
    # answer's first segment and the empathy prefixes, in the styles the empathy map uses)
    # into the synthesis cache, in the background at the lowest priority
    prewarm_replies: bool = True
    escalate_after_angry_turns: int = 3  # consecutive angry/hate turns before human handoff
    # an angry/hate turn counts toward escalation only at this calibrated confidence (and
    # never when the bridge marks it uncertain)
    escalation_min_confidence: float = 0.6
    kb_threshold: float = 0.5  # cosine similarity below which the KB answers with its fallback
    empathy_map: str = ""  # empty: built-in map; else a YAML file {emotion: {emotion, intensity}}
    handoff_message: str = "非常抱歉给您带来不好的体验，我这就为您转接人工客服，请稍候。"
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
