"""An OpenAI-compatible chat-completions client (``POST {base_url}/chat/completions``) on httpx.

Works with any server speaking that API (vLLM, llama.cpp server, Ollama, hosted ones).
The key is read from the environment variable named in the config, never from the file.
:meth:`ChatBackend.complete` is blocking (a worker thread); :meth:`ChatBackend.stream` is
async (the event loop: no thread is held while the model generates) and yields the reply's
text as the server streams it (``"stream": true``, server-sent events).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncGenerator
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
    """Client with a per-request timeout: blocking :meth:`complete` (one ``httpx.Client``,
    reused) and async :meth:`stream` (one ``httpx.AsyncClient`` per event loop, reused)."""

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
        self.timeout_s = timeout_s
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), headers=self._headers)
        self._async: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

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

    def _body(self, messages: list[ChatMessage], temperature: float) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": temperature,
            "max_tokens": self.max_tokens,
        }

    def complete(self, messages: list[ChatMessage], temperature: float = 0.3) -> str:
        """The assistant's reply text; raises :class:`ChatBackendError` on any failure."""
        body = self._body(messages, temperature)
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

    def _async_client(self) -> httpx.AsyncClient:
        """The async client of the running event loop (a client is bound to its loop)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop or self._async[1].is_closed:
            client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), headers=self._headers)
            self._async = (loop, client)
        return self._async[1]

    async def stream(
        self, messages: list[ChatMessage], temperature: float = 0.3
    ) -> AsyncGenerator[str, None]:
        """The reply's text deltas as the endpoint generates them (empty ones skipped).

        Raises :class:`ChatBackendError` on a timeout (``timeout_s`` bounds the connect and
        every gap between chunks), an HTTP error status, a malformed chunk, an error chunk or a
        stream that ends without ``data: [DONE]`` or a ``finish_reason``. Closing the
        generator (or cancelling its consumer) closes the HTTP response.
        """
        body = {**self._body(messages, temperature), "stream": True}
        finished = False
        try:
            async with self._async_client().stream("POST", self.url, json=body) as resp:
                if resp.status_code != 200:
                    detail = (await resp.aread())[:200].decode("utf-8", "replace")
                    raise ChatBackendError(
                        f"chat endpoint answered HTTP {resp.status_code}: {detail}"
                    )
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, event:/id: fields
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    delta, done = self._parse_chunk(data)
                    finished = finished or done
                    if delta:
                        yield delta
        except httpx.TimeoutException as exc:
            raise ChatBackendError(f"chat endpoint timed out: {self.url}") from exc
        except httpx.HTTPError as exc:
            raise ChatBackendError(f"chat stream from {self.url} failed: {exc}") from exc
        if not finished:
            raise ChatBackendError(f"chat stream from {self.url} ended before [DONE]")

    def _parse_chunk(self, data: str) -> tuple[str, bool]:
        """(text delta, whether a choice finished) of one ``data:`` payload."""
        try:
            chunk = json.loads(data)
            if "error" in chunk:
                raise ChatBackendError(f"chat endpoint streamed an error: {str(chunk)[:200]}")
            choices = chunk["choices"]
            if not isinstance(choices, list):
                raise TypeError("choices is not a list")
            if not choices:  # e.g. a closing usage-only chunk
                return "", False
            choice = choices[0]
            content = (choice.get("delta") or {}).get("content") or ""
            if not isinstance(content, str):
                raise TypeError("content is not a string")
            return content, choice.get("finish_reason") is not None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ChatBackendError(f"malformed chat stream chunk from {self.url}") from exc

    def close(self) -> None:
        """Close the blocking client's connection pool."""
        self._client.close()

    async def aclose(self) -> None:
        """Close both clients (the async one from its own event loop)."""
        self.close()
        held, self._async = self._async, None
        if held is not None and held[0] is asyncio.get_running_loop():
            await held[1].aclose()
