"""An OpenAI-compatible chat-completions client (``POST {base_url}/chat/completions``) on httpx.

Works with any server speaking that API (vLLM, llama.cpp server, Ollama, hosted ones).
The key is read from the environment variable named in the config, never from the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx

from tingshuo.dialog.config import ChatConfig


class ChatBackendError(RuntimeError):
    """The chat endpoint failed (timeout, HTTP error, malformed answer); the policy falls back."""


@dataclass(frozen=True)
class ChatMessage:
    """One message of the chat history."""

    role: str  # system | user | assistant
    content: str


class ChatBackend:
    """Blocking client with a per-request timeout (one ``httpx.Client``, reused)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 8.0,
        max_tokens: int = 256,
    ) -> None:
        if not base_url:
            raise ValueError("the chat backend needs a base_url (dialog.chat.base_url)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=headers)

    @classmethod
    def from_config(cls, config: ChatConfig) -> ChatBackend:
        """Build from ``[dialog.chat]``; the key comes from ``$<api_key_env>``."""
        return cls(
            config.base_url,
            config.model,
            os.environ.get(config.api_key_env, ""),
            config.timeout_s,
            config.max_tokens,
        )

    def complete(self, messages: list[ChatMessage], temperature: float = 0.3) -> str:
        """The assistant's reply text; raises :class:`ChatBackendError` on any failure."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": temperature,
            "max_tokens": self.max_tokens,
        }
        try:
            resp = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise ChatBackendError(f"chat endpoint timed out: {self.url}") from exc
        except httpx.HTTPError as exc:
            raise ChatBackendError(f"chat endpoint unreachable: {self.url}: {exc}") from exc
        if resp.status_code != 200:
            raise ChatBackendError(
                f"chat endpoint answered HTTP {resp.status_code}: {resp.text[:200]}"
            )
        try:
            content = resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ChatBackendError(f"malformed chat completion from {self.url}") from exc
        if not isinstance(content, str) or not content.strip():
            raise ChatBackendError("the chat endpoint returned an empty reply")
        return content.strip()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()
