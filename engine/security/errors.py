"""Typed security errors with stable, documented codes (see docs/security.md).

Every refusal the engine makes for security reasons is one of these. The ``code`` is what a
client sees (in an HTTP JSON body or in a WebSocket ``error`` event); ``http_status`` and
``ws_close_code`` say how the transport reports it. Messages never contain a credential.
"""

from __future__ import annotations

# WebSocket close codes (RFC 6455 section 7.4.1).
WS_POLICY_VIOLATION = 1008
WS_MESSAGE_TOO_BIG = 1009
WS_TRY_AGAIN_LATER = 1013

# Codes, grouped by what went wrong. Keep docs/security.md in step with this table.
AUTH_MISSING = "auth.missing"  # no key or token was sent
AUTH_INVALID = "auth.invalid"  # unknown key, bad token signature or malformed token
AUTH_EXPIRED = "auth.expired"  # a token past its expiry time
ORIGIN_FORBIDDEN = "origin.forbidden"  # WebSocket Origin not in the allowlist
RATE_REQUESTS = "rate.requests"  # HTTP requests per minute exceeded
RATE_AUDIO = "rate.audio"  # audio seconds per minute exceeded
RATE_SESSIONS = "rate.sessions"  # too many concurrent sessions for this key or address
CAPACITY_FULL = "capacity.full"  # the server's connection cap is reached
LIMIT_MESSAGE = "limit.message_size"  # a WebSocket control message is too large
LIMIT_FRAME = "limit.frame_size"  # an audio frame is too large
LIMIT_UPLOAD = "limit.upload_size"  # an uploaded file is too large
LIMIT_TEXT = "limit.text_length"  # text to synthesize is too long
TIMEOUT_IDLE = "timeout.idle"  # nothing received for idle_timeout_s
TIMEOUT_SESSION = "timeout.session"  # the session outlived session_timeout_s
WEBHOOK_FORBIDDEN = "webhook.forbidden"  # a webhook_url on a private/loopback/reserved address


class SecurityError(Exception):
    """Base of every security refusal: a stable ``code`` plus transport hints."""

    code: str = "security.error"
    http_status: int = 400
    ws_close_code: int = WS_POLICY_VIOLATION

    def __init__(self, code: str | None = None, message: str = "") -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code
        super().__init__(f"{self.code}: {self.message}")

    def to_dict(self) -> dict[str, object]:
        """The JSON body / ``error`` event payload for this refusal."""
        return {"code": self.code, "message": self.message}


class AuthError(SecurityError):
    """Missing, invalid or expired credentials (HTTP 401)."""

    code = AUTH_INVALID
    http_status = 401


class OriginError(SecurityError):
    """A browser Origin outside the allowlist (HTTP 403)."""

    code = ORIGIN_FORBIDDEN
    http_status = 403


class RateLimitError(SecurityError):
    """A token bucket is empty or a concurrency limit is reached (HTTP 429)."""

    code = RATE_REQUESTS
    http_status = 429
    ws_close_code = WS_TRY_AGAIN_LATER

    def __init__(self, code: str | None = None, message: str = "", retry_after: float = 0.0):
        super().__init__(code, message)
        self.retry_after = max(0.0, float(retry_after))

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        body["retry_after"] = round(self.retry_after, 3)
        return body


class CapacityError(SecurityError):
    """The server-wide connection cap is reached (HTTP 503)."""

    code = CAPACITY_FULL
    http_status = 503
    ws_close_code = WS_TRY_AGAIN_LATER


class SizeLimitError(SecurityError):
    """A message, frame, upload or text is over its configured size (HTTP 413)."""

    code = LIMIT_MESSAGE
    http_status = 413
    ws_close_code = WS_MESSAGE_TOO_BIG

    def __init__(self, code: str | None = None, message: str = "", limit: int = 0, size: int = 0):
        super().__init__(code, message)
        self.limit = limit
        self.size = size


class SessionTimeoutError(SecurityError):
    """A session idle for too long, or open for too long (WebSocket close 1008)."""

    code = TIMEOUT_IDLE
    http_status = 408


class WebhookError(SecurityError):
    """A webhook target the engine refuses to call (HTTP 400)."""

    code = WEBHOOK_FORBIDDEN
    http_status = 400


class InsecureConfigError(ValueError):
    """A configuration that would expose the engine (e.g. auth off on a public bind)."""
