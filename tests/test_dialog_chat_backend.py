"""The OpenAI-compatible client against a real local HTTP server (127.0.0.1, in a thread)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.chat_sse_server import FakeChatServer
from tingshuo.dialog.chat_backend import ChatBackend, ChatBackendError, ChatMessage
from tingshuo.dialog.config import ChatConfig


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions; the model name picks the behaviour."""

    requests: list[dict] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        model = body["model"]
        if model == "slow":
            time.sleep(1.5)
        if model == "broken":
            self._send(500, b'{"error": "boom"}')
            return
        if model == "garbage":
            self._send(200, b'{"choices": []}')
            return
        last = body["messages"][-1]["content"]
        reply = {"choices": [{"message": {"role": "assistant", "content": f"收到：{last}"}}]}
        self._send(200, json.dumps(reply, ensure_ascii=False).encode())

    def _send(self, code: int, data: bytes) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_completion_round_trip_with_key_from_env(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    backend = ChatBackend.from_config(
        ChatConfig(base_url=server, model="m", api_key_env="FAKE_KEY", timeout_s=5)
    )
    answer = backend.complete([ChatMessage("system", "be brief"), ChatMessage("user", "你好")])
    assert answer == "收到：你好"
    req = FakeOpenAI.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer sk-test"
    assert req["body"]["messages"][0] == {"role": "system", "content": "be brief"}
    backend.close()


def test_timeout_is_a_typed_error_and_fast(server: str) -> None:
    backend = ChatBackend(server, "slow", timeout_s=0.3)
    start = time.monotonic()
    with pytest.raises(ChatBackendError, match="timed out"):
        backend.complete([ChatMessage("user", "hi")])
    assert time.monotonic() - start < 1.4  # gave up before the server answered
    backend.close()


@pytest.mark.parametrize(("model", "message"), [("broken", "HTTP 500"), ("garbage", "malformed")])
def test_server_errors_are_typed(server: str, model: str, message: str) -> None:
    with pytest.raises(ChatBackendError, match=message):
        ChatBackend(server, model, timeout_s=5).complete([ChatMessage("user", "hi")])


def test_unreachable_and_unconfigured() -> None:
    with pytest.raises(ChatBackendError, match="unreachable"):
        ChatBackend("http://127.0.0.1:9/v1", "m", timeout_s=1).complete([ChatMessage("user", "hi")])
    with pytest.raises(ValueError, match="base_url"):
        ChatBackend("", "m")


# ---- streaming (server-sent events) against tests/chat_sse_server.py ----------------------


@pytest.fixture()
def sse() -> Iterator[FakeChatServer]:
    server = FakeChatServer(["你好", "，", "我是", "客服。"], delay_s=0.01)
    yield server
    server.close()


async def _collect(backend: ChatBackend, text: str = "hi") -> list[str]:
    return [d async for d in backend.stream([ChatMessage("user", text)])]


def test_stream_yields_deltas_with_key_and_stream_flag(
    sse: FakeChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-stream")
    backend = ChatBackend.from_config(
        ChatConfig(base_url=sse.url, model="stream", api_key_env="FAKE_KEY", timeout_s=5)
    )

    async def main() -> list[str]:
        try:
            return await _collect(backend)
        finally:
            await backend.aclose()

    assert asyncio.run(main()) == ["你好", "，", "我是", "客服。"]
    req = sse.requests[-1]
    assert req["auth"] == "Bearer sk-stream" and req["body"]["stream"] is True
    assert req["path"] == "/v1/chat/completions"
    # the blocking path still works against the same server
    assert ChatBackend(sse.url, "whole", timeout_s=5).complete([ChatMessage("user", "x")]) == (
        "你好，我是客服。"
    )


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("error", "HTTP 500"),
        ("garbage", "malformed"),
        ("cut", "ended before"),
        ("stall", "timed out"),
    ],
)
def test_stream_failures_are_typed(sse: FakeChatServer, model: str, message: str) -> None:
    backend = ChatBackend(sse.url, model, timeout_s=0.5)
    got: list[str] = []

    async def main() -> None:
        try:
            async for delta in backend.stream([ChatMessage("user", "hi")]):
                got.append(delta)
        finally:
            await backend.aclose()

    start = time.monotonic()
    with pytest.raises(ChatBackendError, match=message):
        asyncio.run(main())
    assert time.monotonic() - start < 2.5  # the gap timeout, not the server's 3 s stall
    if model in ("cut", "stall"):
        assert got  # the text before the failure was delivered


def test_stream_unreachable() -> None:
    backend = ChatBackend("http://127.0.0.1:9/v1", "m", timeout_s=1)
    with pytest.raises(ChatBackendError, match="failed"):
        asyncio.run(_collect(backend))


def test_closing_the_stream_closes_the_request(sse: FakeChatServer) -> None:
    backend = ChatBackend(sse.url, "hold", timeout_s=5)

    async def main() -> None:
        stream = backend.stream([ChatMessage("user", "hi")])
        assert await anext(stream) == "你好"
        await stream.aclose()  # type: ignore[attr-defined]
        await backend.aclose()

    asyncio.run(main())
    assert sse.disconnected.wait(5)
    assert not sse.finished.is_set()
