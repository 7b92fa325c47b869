"""The FastAPI application: routes, shared state, startup warm-up and graceful drain.

``create_app(config, services=None)`` builds the app; models load (or are taken from
``services``) and warm in the lifespan, off the event loop, and ``/readyz`` turns 200 only
once they have. ``EngineState.drain`` is what a graceful shutdown calls first: stop taking
new sessions, let replies in flight finish within ``server.shutdown_timeout_s``, close every
session with a reason.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.engine.downloads import DownloadStore
from tingshuo.engine.jobs import JobStore
from tingshuo.engine.logs import RequestContext
from tingshuo.engine.security.errors import SecurityError
from tingshuo.engine.security.guard import Guard
from tingshuo.engine.security.guard import install as install_security
from tingshuo.engine.services import Services
from tingshuo.engine.workers import DeadlineExceededError, OverloadedError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An HTTP error with a stable code, returned as ``{"error": {"code", "message"}}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class EngineState:
    """Everything the routes share; one per app."""

    def __init__(self, config: EngineConfig, services: Services | None) -> None:
        self.config = config
        self.services: Services | None = services
        self.accepting = True
        self.sessions: set[Any] = set()  # live engine.session.Session objects
        self.asr_connections = 0
        self.dialog_connections = 0  # handlers still running (they close their socket last)
        self.load_error = ""
        self.loading: asyncio.Task[None] | None = None  # models loading in the background
        self.prewarm: asyncio.Task[int] | None = None  # reply openings → synthesis cache
        root = cache_root(config)
        self._tmp = tempfile.TemporaryDirectory(prefix="tingshuo-dl-")
        self.downloads = DownloadStore(Path(self._tmp.name), config.server.download_ttl_s)
        if config.redis_url:  # replicas share job records and results (queue: arq)
            from tingshuo.engine.scaleout.job_records import RedisJobStore

            self.jobs: Any = RedisJobStore(config.redis_url, root / "jobs-redis-results")
        else:
            self.jobs = JobStore(
                Path(config.server.jobs_db) if config.server.jobs_db else root / "jobs.sqlite3"
            )
        self.job_runner: Any = None
        self.guard = Guard(config)  # auth, rate limits, caps (engine/security/guard.py)

    @property
    def ready(self) -> bool:
        """Models loaded and warmed, and not draining."""
        return self.services is not None and self.services.ready and self.accepting

    def authorize(self, key: str) -> bool:
        """Whether an API key or session token is accepted (any, when auth is off)."""
        try:
            self.guard.authn.authenticate(key)
        except SecurityError:
            return False
        return True

    async def drain(self, timeout_s: float | None = None) -> None:
        """Stop accepting sessions; let replies finish within the timeout; close all sessions."""
        self.accepting = False
        timeout = self.config.server.shutdown_timeout_s if timeout_s is None else timeout_s
        sessions = list(self.sessions)
        if sessions:
            log.info("draining %d session(s) for up to %.1f s", len(sessions), timeout)
        await asyncio.gather(
            *(s.close("server shutting down", drain_reply_s=timeout) for s in sessions),
            return_exceptions=True,
        )
        for _ in range(100):  # let handlers send their close frames before the server cuts them
            if self.dialog_connections == 0:
                break
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Release models, the job runner and files."""
        if self.job_runner is not None:
            await self.job_runner.stop()
        if self.services is not None:
            await self.services.close()
        self.jobs.close()
        await self.guard.close()
        self.downloads.clear()
        self._tmp.cleanup()


def _load_services(state: EngineState) -> None:
    config = state.config
    if state.services is None:
        state.services = Services.load(config)
    if config.server.warmup:
        state.services.warm()
    state.services.ready = True


def create_app(config: EngineConfig, services: Services | None = None) -> FastAPI:
    """The engine's ASGI app; pass ``services`` to reuse already-loaded models."""
    state = EngineState(config, services)

    async def load() -> None:
        """Load and warm the models off the loop; the port answers (503 loading) meanwhile."""
        from tingshuo.engine.http_jobs import JobRunner

        try:
            await asyncio.to_thread(_load_services, state)
        except Exception as exc:  # readiness stays false; /readyz says why
            state.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("model loading failed")
        if state.services is not None:
            state.services.start()
            state.job_runner = JobRunner(state)
            state.job_runner.start()
            if state.services.ready and config.server.warmup:  # common reply openings
                state.prewarm = asyncio.create_task(state.services.prewarm_replies())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None and not config.server.warmup:
            await load()  # nothing to load or warm: ready as the port opens
        else:
            state.loading = asyncio.create_task(load(), name="load-models")
        try:
            yield
        finally:
            if state.loading is not None and not state.loading.done():
                state.loading.cancel()  # a load in its thread finishes on its own
                await asyncio.gather(state.loading, return_exceptions=True)
            if state.prewarm is not None and not state.prewarm.done():
                state.prewarm.cancel()
                await asyncio.gather(state.prewarm, return_exceptions=True)
            await state.drain()
            await state.close()

    app = FastAPI(
        title="tingshuo",
        version="0.1.0",
        description="听说 — Mandarin voice dialogue engine: ASR → emotion bridge → TTS.",
        lifespan=lifespan,
        docs_url=None,  # Swagger/ReDoc pages pull their assets from a CDN; the schema is at
        redoc_url=None,  # /openapi.json and every page the engine serves is self-contained
    )
    app.state.engine = state
    install_security(app, state.guard)  # SecurityError -> JSON, body-size cap, POST /api/token
    app.add_middleware(RequestContext)  # request=<id> on every log line, X-Request-ID back

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        if state.services is not None:
            state.services.metrics.errors.labels(exc.code).inc()
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, exc.status, headers=exc.headers
        )

    @app.exception_handler(OverloadedError)
    async def overloaded(request: Request, exc: OverloadedError) -> JSONResponse:
        return await api_error(request, overloaded_error(exc))

    @app.exception_handler(TimeoutError)
    async def timed_out(request: Request, exc: TimeoutError) -> JSONResponse:
        return await api_error(request, timeout_error(exc))

    install_error_shape(app)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: models loaded and warmed, not shutting down (503 otherwise).

        A ready engine answers 200 with ``saturated`` (new HTTP model requests are refused
        with 503 ``overloaded`` now) and its scheduler's queue (docs/protocol.md).
        """
        if state.ready:
            assert state.services is not None
            body: dict[str, Any] = {"status": "ready", **state.services.load_report()}
            if state.prewarm is not None:  # background: readiness does not wait for it
                body["reply_prewarm"] = {
                    "done": state.prewarm.done(),
                    "rendered": state.services.prewarmed,
                }
            return JSONResponse(body)
        reason = state.load_error or ("draining" if not state.accepting else "loading")
        headers = {"Retry-After": "5"} if reason == "loading" else None
        return JSONResponse({"status": "not ready", "reason": reason}, 503, headers=headers)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        """Prometheus metrics."""
        if state.services is None:
            return Response("", media_type="text/plain")
        return Response(state.services.metrics.export(), media_type="text/plain; version=0.0.4")

    from tingshuo.engine import api_emotion, http_asr, http_jobs, http_tts, webui, ws_asr, ws_dialog

    for module in (http_tts, http_asr, http_jobs, api_emotion, ws_dialog, ws_asr, webui):
        app.include_router(module.router)
    app.include_router(http_tts.public_router)  # /download/{id}: capability URLs
    return app


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "too_large",
    415: "unsupported_media_type",
}


# The one error body of every HTTP error (docs/protocol.md), as a JSON schema for /openapi.json.
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable, e.g. invalid_request"},
                "message": {"type": "string"},
                "param": {"type": "string", "description": "validation: first bad field"},
                "fields": {
                    "type": "array",
                    "description": "validation: every bad field",
                    "items": {
                        "type": "object",
                        "properties": {"param": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}


def _where(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or ".".join(str(p) for p in loc)


def install_error_shape(app: FastAPI) -> None:
    """Make every HTTP error the documented ``{"error": {"code", "message", ...}}``.

    FastAPI's own answers (``{"detail": ...}`` for validation errors, unknown routes, wrong
    methods) and unhandled exceptions are rewritten; validation errors keep status 422 with
    code ``invalid_request``, the first bad field in ``param`` and all of them in ``fields``.
    """

    openapi = app.openapi

    def documented_openapi() -> dict[str, Any]:
        schema = openapi()  # FastAPI builds and caches it; its 422 body says {"detail"}: fix
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = ERROR_SCHEMA
        return schema

    app.openapi = documented_openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"param": _where(e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = fields[0] if fields else {"param": "", "message": "invalid request"}
        message = f"{first['param']}: {first['message']}" if first["param"] else first["message"]
        body = {
            "code": "invalid_request",
            "message": message,
            "param": first["param"],
            "fields": fields,
        }
        return JSONResponse({"error": body}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            {"error": {"code": code, "message": message}}, exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        body = {"code": "internal", "message": "internal server error (logged)"}
        return JSONResponse({"error": body}, 500)


def engine_state(request: Any) -> EngineState:
    """The app's :class:`EngineState` from a request or WebSocket."""
    return request.app.state.engine


def require_services(request: Any) -> Services:
    """Loaded services, or a 503 :class:`ApiError`."""
    state = engine_state(request)
    if state.services is None or not state.services.ready:
        if state.load_error:
            raise ApiError(503, "not_ready", state.load_error)
        raise ApiError(503, "loading", "models are still loading", {"Retry-After": "5"})
    return state.services


def overloaded_error(exc: OverloadedError) -> ApiError:
    """503 ``overloaded`` with ``Retry-After`` for a request refused by admission control."""
    headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    return ApiError(503, "overloaded", str(exc), headers)


def timeout_error(exc: TimeoutError) -> ApiError:
    """504 for a request whose deadline passed or whose model call ran too long."""
    if isinstance(exc, DeadlineExceededError):
        return ApiError(504, "deadline_exceeded", str(exc) or "the request's deadline passed")
    return ApiError(504, "timeout", str(exc) or "a model call took too long")


async def check_api_key(request: Request) -> None:
    """HTTP auth (``Authorization: Bearer KEY|TOKEN`` or ``X-API-Key``) and request rate limits.

    Raises :class:`~engine.security.errors.SecurityError` (401 auth.*, 429 rate.requests).
    """
    await engine_state(request).guard.check_http(request)


async def check_address_rate(request: Request) -> None:
    """Per-address request limit only (for routes that need no key, such as downloads)."""
    guard = engine_state(request).guard
    await guard.limiter.check_request("anonymous", guard.client_ip(request))
