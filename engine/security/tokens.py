"""Short-lived HMAC-signed tokens for browser WebSockets (issued by ``POST /api/token``).

A browser cannot set headers on a WebSocket, and a long-lived API key must not sit in a web
page. The WebUI's backend (or a user holding a key) asks ``POST /api/token`` for a token and
the page sends it in its first ``session.start`` message. A token is

    tst1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, "tst1." + payload))>

with payload ``{"sub": <key id>, "iat": <issued>, "exp": <expires>, "jti": <random>}``. It is
verified with :func:`hmac.compare_digest` and refused once ``exp`` is past. The secret is
``security.token_secret``; replicas behind a load balancer must share it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from tingshuo.engine.security.errors import AUTH_EXPIRED, AUTH_INVALID, AuthError

TOKEN_PREFIX = "tst1."
MAX_TOKEN_CHARS = 1024  # refuse absurd inputs before decoding anything


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    subject: str  # key id of the key that asked for it ("anonymous" when auth is off)
    issued_at: float
    expires_at: float
    token_id: str


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Issues and verifies tokens with one secret and one lifetime."""

    def __init__(
        self, secret: str | bytes, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if not secret:
            raise ValueError("token secret must not be empty")
        if ttl_s <= 0:
            raise ValueError("token ttl must be positive")
        self._secret = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        self.ttl_s = float(ttl_s)
        self._clock = clock

    @classmethod
    def from_config(cls, secret: str, ttl_s: float) -> TokenSigner:
        """A signer for ``security.token_secret``; an empty secret gets a random per-process one."""
        return cls(secret or secrets.token_bytes(32), ttl_s)

    def _sign(self, signed_part: str) -> str:
        mac = hmac.new(self._secret, signed_part.encode("ascii"), hashlib.sha256)
        return _b64encode(mac.digest())

    def issue(self, subject: str, ttl_s: float | None = None) -> tuple[str, TokenClaims]:
        """A new token for ``subject`` and its claims (lifetime capped at the configured ttl)."""
        ttl = self.ttl_s if ttl_s is None else min(float(ttl_s), self.ttl_s)
        now = self._clock()
        claims = TokenClaims(subject, now, now + ttl, secrets.token_urlsafe(9))
        payload = {"sub": subject, "iat": now, "exp": claims.expires_at, "jti": claims.token_id}
        body = _b64encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
        signed_part = TOKEN_PREFIX + body
        return f"{signed_part}.{self._sign(signed_part)}", claims

    def verify(self, token: str | None) -> TokenClaims:
        """The claims of a valid, unexpired token; :class:`AuthError` otherwise."""
        if not isinstance(token, str) or not token:
            raise AuthError(AUTH_INVALID, "token is empty")
        if len(token) > MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
            raise AuthError(AUTH_INVALID, "not a token")
        signed_part, dot, signature = token.rpartition(".")
        if not dot or signed_part == TOKEN_PREFIX.rstrip("."):
            raise AuthError(AUTH_INVALID, "malformed token")
        if not hmac.compare_digest(self._sign(signed_part), signature):
            raise AuthError(AUTH_INVALID, "bad token signature")
        try:
            payload = json.loads(_b64decode(signed_part[len(TOKEN_PREFIX) :]))
            claims = TokenClaims(
                str(payload["sub"]),
                float(payload["iat"]),
                float(payload["exp"]),
                str(payload["jti"]),
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise AuthError(AUTH_INVALID, "malformed token payload") from None
        if self._clock() >= claims.expires_at:
            raise AuthError(AUTH_EXPIRED, "token has expired; ask POST /api/token for a new one")
        return claims


def looks_like_token(credential: str) -> bool:
    """True when a credential has the token shape rather than the API-key shape."""
    return credential.startswith(TOKEN_PREFIX)
