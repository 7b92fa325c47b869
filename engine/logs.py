"""Structured logs: every record names the session or request it belongs to.

The context lives in a :mod:`contextvars` variable, so it follows a session's asyncio tasks
(tasks copy the context they are created in) and a request's handler without being passed
around. ``log_format = "json"`` writes one JSON object per line (for log shippers); ``text``
appends the context as ``key=value`` pairs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any

_CONTEXT: ContextVar[dict[str, str]] = ContextVar("tingshuo_log_context", default={})  # noqa: B039 - never mutated
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # a client's id is kept only when tame
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"
LOG_FORMATS = ("text", "json")


def context() -> dict[str, str]:
    """The fields bound in the current context."""
    return dict(_CONTEXT.get())


def bind(**fields: str) -> None:
    """Bind ``fields`` for the rest of the current task (a connection handler's task: the
    tasks it starts afterwards inherit them)."""
    _CONTEXT.set({**_CONTEXT.get(), **fields})


@contextlib.contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Bind ``fields`` (e.g. ``session="ab12"``) to every record logged inside the block,
    including from tasks created inside it."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``record.fields`` (the bound context) and ``record.context`` (as text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _CONTEXT.get()
        record.fields = fields
        record.context = "".join(f" {k}={v}" for k, v in fields.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, bound fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure(level: str | int = "INFO", fmt: str = "text") -> None:
    """Set up the root logger once per process (idempotent): level, format, context filter."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, got {fmt!r}")
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_tingshuo", False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler._tingshuo = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.setLevel(level.upper() if isinstance(level, str) else level)


def request_id(header_value: str | None) -> str:
    """The client's ``X-Request-ID`` when it is a tame token (a proxy's id), else a new one."""
    if header_value and _REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex[:16]


class RequestContext:
    """ASGI middleware: each HTTP request or WebSocket runs with ``request=<id>`` bound; HTTP
    responses carry the id back in ``X-Request-ID`` (taken from the client or a proxy when
    given), so a log line and a client's report can be matched."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER.lower().encode())
        rid = request_id(given.decode("latin-1") if given else None)
        started = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((REQUEST_ID_HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with bound(request=rid):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                logging.getLogger("tingshuo.access").debug(
                    "%s %s %.1f ms",
                    scope.get("method", "WS"),
                    scope.get("path", ""),
                    1000 * (time.perf_counter() - started),
                )
