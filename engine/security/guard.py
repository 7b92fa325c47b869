"""The one object the server asks about security: :class:`Guard` (built per app).

It bundles the :class:`~engine.security.auth.Authenticator`, the
:class:`~engine.security.limits.RateLimiter` (in-process, or Redis when ``redis_url`` is set),
the :class:`~engine.security.limits.ConnectionCap` and the
:class:`~engine.security.sizes.SizeLimits`, and offers the hooks the routes call:

* HTTP: :meth:`Guard.check_http` (a FastAPI dependency body: credential from headers,
  per-key / per-address request buckets) and :class:`BodySizeLimit` (an ASGI middleware that
  refuses bodies over ``max_upload_bytes`` before they are read).
* WebSockets: :meth:`Guard.admit` (Origin allowlist + connection cap, before the session),
  :meth:`Guard.start_session` (credential from ``session.start`` + concurrent-session slot),
  :meth:`Guard.end_session`, an :class:`~engine.security.limits.AudioMeter` per session and
  :meth:`Guard.clock` for idle / total timeouts.

:func:`install` registers the JSON error handler for :class:`SecurityError` and the
``POST /api/token`` route on an app.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from tingshuo.engine.security.auth import ANONYMOUS, Authenticator, Principal
from tingshuo.engine.security.buckets import LimitStore, Slot
from tingshuo.engine.security.errors import LIMIT_UPLOAD, AuthError, SecurityError
from tingshuo.engine.security.keys import credential_from_headers
from tingshuo.engine.security.limits import (
    AudioMeter,
    ConnectionCap,
    RateLimiter,
    build_limit_store,
)
from tingshuo.engine.security.origin import check_origin, client_address
from tingshuo.engine.security.sizes import SessionClock, SizeLimits

log = logging.getLogger("tingshuo.security")


class TokenRequest(BaseModel):
    """Body of ``POST /api/token`` (optional)."""

    ttl_s: float | None = Field(None, gt=0, description="lifetime (capped at token_ttl_s)")


class TokenResponse(BaseModel):
    """A browser token and when it expires (Unix time and seconds from now)."""

    token: str
    expires_at: float
    expires_in: float


@dataclass
class SessionGrant:
    """What :meth:`Guard.start_session` hands back; give it to :meth:`Guard.end_session`."""

    principal: Principal
    ip: str
    meter: AudioMeter
    handle: tuple[list[Slot], str] | None


class Guard:
    """Authentication, limits and caps for one engine process."""

    def __init__(self, config: Any, store: LimitStore | None = None) -> None:
        sec = config.security
        self.security = sec
        self.authn = Authenticator.from_config(sec)
        self.limiter = RateLimiter.from_config(sec, store or build_limit_store(config.redis_url))
        self.cap = ConnectionCap(sec.max_sessions)
        self.sizes = SizeLimits.from_config(sec)

    # ---- common ----
    def client_ip(self, conn: Any) -> str:
        """The caller's address (``X-Forwarded-For`` only from ``trusted_proxies``)."""
        peer = conn.client.host if conn.client else None
        return client_address(
            peer, conn.headers.get("x-forwarded-for"), self.security.trusted_proxies
        )

    def clock(self) -> SessionClock:
        """Idle / total deadlines for a new session."""
        return SessionClock(self.security.idle_timeout_s, self.security.session_timeout_s)

    async def close(self) -> None:
        """Release the limit store's connections."""
        await self.limiter.store.close()

    # ---- HTTP ----
    async def check_http(self, request: Any) -> Principal:
        """Authenticate a request and spend one request token; raises :class:`SecurityError`."""
        ip = self.client_ip(request)
        try:
            principal = self.authn.authenticate(credential_from_headers(request.headers))
        except AuthError:
            await self.limiter.check_request(ANONYMOUS, ip)  # failed attempts cost the address
            raise
        await self.limiter.check_request(principal.id, ip)
        request.state.principal = principal
        return principal

    # ---- WebSockets ----
    def admit(self, ws: Any) -> None:
        """Origin allowlist and connection cap; pair a success with :meth:`release`."""
        check_origin(
            ws.headers.get("origin"), self.security.allowed_origins, ws.headers.get("host")
        )
        self.cap.try_acquire()

    def release(self) -> None:
        """Give back the connection place taken by :meth:`admit`."""
        self.cap.release()

    def ws_credential(self, ws: Any, sent: str = "") -> str | None:
        """A WebSocket's credential: the one in its first message (``session.start`` token),
        else ``Authorization`` / ``X-API-Key`` headers, else a ``?token=`` query parameter
        (for FunASR clients, which can set neither)."""
        return sent or credential_from_headers(ws.headers) or ws.query_params.get("token") or None

    async def start_session(self, ws: Any, credential: str | None) -> SessionGrant:
        """Authenticate a WebSocket session and hold a concurrent-session place."""
        principal = self.authn.authenticate(credential)
        ip = self.client_ip(ws)
        handle = await self.limiter.open_session(principal.id, ip)
        return SessionGrant(principal, ip, AudioMeter(self.limiter, principal.id, ip), handle)

    async def end_session(self, grant: SessionGrant | None) -> None:
        """Release a session's place (idempotent)."""
        if grant is not None and grant.handle is not None:
            handle, grant.handle = grant.handle, None
            try:
                await self.limiter.close_session(handle)
            except Exception:  # the lease expires by itself; never fail a close on it
                log.warning("could not release a session place", exc_info=True)


class BodySizeLimit:
    """ASGI middleware: HTTP bodies over ``limit`` bytes get 413 ``limit.upload_size``.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is counted as it streams and cut off when it passes the limit.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.limit <= 0:
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await _send_error(send, _too_large(declared, self.limit))
                    return
        seen = 0
        started = refused = False

        async def counting_receive() -> dict:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if not started and not refused:
                        refused = True  # answer now: the app may turn the error into a 400
                        await _send_error(send, _too_large(seen, self.limit))
                    raise _BodyTooLarge(seen)
            return message

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if refused:
                return  # our 413 already went out
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)


class _BodyTooLarge(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


def _too_large(size: int, limit: int) -> SecurityError:
    from tingshuo.engine.security.errors import SizeLimitError

    return SizeLimitError(LIMIT_UPLOAD, f"request body over {limit} bytes", limit, size)


async def _send_error(send: Any, err: SecurityError) -> None:
    import json

    body = json.dumps({"error": err.to_dict()}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": err.http_status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def error_response(err: SecurityError) -> Any:
    """The HTTP response for a refusal: JSON ``{"error": {...}}``, ``Retry-After`` on 429."""
    import math

    from fastapi.responses import JSONResponse

    from tingshuo.engine.security.errors import RateLimitError

    headers = {}
    if isinstance(err, RateLimitError):
        headers["Retry-After"] = str(max(1, math.ceil(min(err.retry_after, 86400))))
    if isinstance(err, AuthError):
        headers["WWW-Authenticate"] = 'Bearer realm="tingshuo"'
    return JSONResponse({"error": err.to_dict()}, err.http_status, headers=headers)


def install(app: Any, guard: Guard) -> None:
    """Register the :class:`SecurityError` handler, the body-size middleware and ``/api/token``."""

    @app.exception_handler(SecurityError)
    async def security_error(_: Request, exc: SecurityError) -> Any:
        return error_response(exc)

    async def principal(request: Request) -> Principal:
        return await guard.check_http(request)

    @app.post("/api/token", tags=["auth"], response_model=TokenResponse)
    async def issue_token(
        body: TokenRequest | None = None,
        who: Principal = Depends(principal),  # noqa: B008
    ) -> TokenResponse:
        """A short-lived token for a browser WebSocket (send it in ``session.start``)."""
        token, claims = guard.authn.issue_token(who, body.ttl_s if body else None)
        return TokenResponse(
            token=token,
            expires_at=claims.expires_at,
            expires_in=round(claims.expires_at - claims.issued_at, 3),
        )

    app.add_middleware(BodySizeLimit, limit=guard.security.max_upload_bytes + 64 * 1024)
