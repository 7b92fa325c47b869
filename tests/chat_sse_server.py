"""A real local OpenAI-compatible chat server (127.0.0.1, a thread) that streams server-sent
events with delays, for the streaming chat tests and benchmarks/chat_stream.py.

The request's ``model`` picks the behaviour:

- ``stream``: ``tokens`` one ``data:`` chunk each, ``delay_s`` apart, then ``data: [DONE]``;
- ``hold``: the first ``hold_after`` tokens, then waits for :attr:`FakeChatServer.release`
  (or the client's disconnect) before the rest;
- ``cut``: the first ``hold_after`` tokens, then closes the connection (no ``[DONE]``);
- ``error``: HTTP 500 at once; ``garbage``: one malformed chunk; ``stall``: the first token,
  then silence for 3 s;
- anything else without ``"stream": true``: one whole completion of all tokens, after the
  time streaming them would take (``delay_s`` per token).

It records each request and sets :attr:`FakeChatServer.disconnected` when a client goes away
before the stream is over.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeChatServer:
    """Starts on a free port; ``url`` is the ``…/v1`` base URL."""

    def __init__(
        self, tokens: list[str] | None = None, delay_s: float = 0.03, hold_after: int = 3
    ) -> None:
        self.tokens = tokens or ["好的，", "我来", "帮您", "查一下", "。"]
        self.delay_s = delay_s
        self.hold_after = hold_after
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.disconnected = threading.Event()
        self.finished = threading.Event()  # a stream was written to its end
        self.first_sent = threading.Event()  # a stream's first token went out
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
                )
                try:
                    server._answer(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected.set()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        """Stop serving."""
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    # ---- behaviour ----
    def _answer(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        model = body.get("model", "")
        if model == "error":
            self._plain(h, 500, b'{"error": "boom"}')
            return
        if not body.get("stream"):  # answered once the whole text is "generated"
            time.sleep(self.delay_s * len(self.tokens))
            text = "".join(self.tokens)
            reply = {"choices": [{"message": {"role": "assistant", "content": text}}]}
            self._plain(h, 200, json.dumps(reply, ensure_ascii=False).encode())
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        if model == "garbage":
            self._event(h, "{not json")
            return
        for i, token in enumerate(self.tokens):
            if i == self.hold_after and model in ("hold", "cut"):
                if model == "cut":
                    return  # the connection closes without [DONE]
                if not self._wait(h, self.release, 30.0):
                    return
            if i == 1 and model == "stall":
                self._wait(h, threading.Event(), 3.0)
                return
            if i and self.delay_s and not self._wait(h, threading.Event(), self.delay_s):
                return
            chunk = {"choices": [{"index": 0, "delta": {"content": token}, "finish_reason": None}]}
            self._event(h, json.dumps(chunk, ensure_ascii=False))
            self.first_sent.set()
        self._event(
            h, json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        )
        self._event(h, "[DONE]")
        self.finished.set()

    def _wait(self, h: BaseHTTPRequestHandler, event: threading.Event, timeout: float) -> bool:
        """Wait for ``event`` (up to ``timeout``) while watching for the client's disconnect;
        False when the client went away."""
        sock: socket.socket = h.connection
        deadline = time.monotonic() + timeout
        while not event.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.01)
            if readable and not sock.recv(1, socket.MSG_PEEK):
                self.disconnected.set()
                return False
        return True

    @staticmethod
    def _event(h: BaseHTTPRequestHandler, data: str) -> None:
        h.wfile.write(f"data: {data}\n\n".encode())
        h.wfile.flush()

    @staticmethod
    def _plain(h: BaseHTTPRequestHandler, code: int, data: bytes) -> None:
        h.send_response(code)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
