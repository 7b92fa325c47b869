"""Short-lived HMAC-signed tokens for browser WebSockets (issued by ``POST /api/token``).

A browser cannot set headers on a WebSocket, and a long-lived API key must not sit in a web
page. The WebUI's backend (or a user holding a key) asks ``POST /api/token`` for a token and
the page sends it in its first ``session.start`` message. Tokens are signed
with ``itsdangerous`` (its ``URLSafeSerializer``: compact JSON, HMAC-SHA1 over a key derived from
the secret and a salt, constant-time comparison) rather than a format of our own, behind the
prefix ``tst1.``:

    tst1.<itsdangerous URL-safe payload>.<signature>

with payload ``{"sub": <key id>, "iat": <issued>, "exp": <expires>, "jti": <random>}``; a token
is refused once ``exp`` is past (our clock, so tests can move it). The secret is
``security.token_secret``; replicas behind a load balancer must share it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from tingshuo.engine.security.errors import AUTH_EXPIRED, AUTH_INVALID, AuthError

TOKEN_PREFIX = "tst1."
SALT = "tingshuo.ws-token"  # keys derived for this purpose only
MAX_TOKEN_CHARS = 1024  # refuse absurd inputs before decoding anything


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says."""

    subject: str  # key id of the key that asked for it ("anonymous" when auth is off)
    issued_at: float
    expires_at: float
    token_id: str


class TokenSigner:
    """Issues and verifies tokens with one secret and one lifetime."""

    def __init__(
        self, secret: str | bytes, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        if not secret:
            raise ValueError("token secret must not be empty")
        if ttl_s <= 0:
            raise ValueError("token ttl must be positive")
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.ttl_s = float(ttl_s)
        self._clock = clock

    @classmethod
    def from_config(cls, secret: str, ttl_s: float) -> TokenSigner:
        """A signer for ``security.token_secret``; an empty secret gets a random per-process one."""
        return cls(secret or secrets.token_bytes(32), ttl_s)

    def sign_payload(self, payload: object) -> str:
        """A token carrying any JSON ``payload`` (tests use it to forge well-signed garbage)."""
        return TOKEN_PREFIX + self._serializer.dumps(payload)

    def issue(self, subject: str, ttl_s: float | None = None) -> tuple[str, TokenClaims]:
        """A new token for ``subject`` and its claims (lifetime capped at the configured ttl)."""
        ttl = self.ttl_s if ttl_s is None else min(float(ttl_s), self.ttl_s)
        now = self._clock()
        claims = TokenClaims(subject, now, now + ttl, secrets.token_urlsafe(9))
        payload = {"sub": subject, "iat": now, "exp": claims.expires_at, "jti": claims.token_id}
        return self.sign_payload(payload), claims

    def verify(self, token: str | None) -> TokenClaims:
        """The claims of a valid, unexpired token; :class:`AuthError` otherwise."""
        if not isinstance(token, str) or not token:
            raise AuthError(AUTH_INVALID, "token is empty")
        if len(token) > MAX_TOKEN_CHARS or not token.startswith(TOKEN_PREFIX):
            raise AuthError(AUTH_INVALID, "not a token")
        try:
            payload = self._serializer.loads(token[len(TOKEN_PREFIX) :])
        except BadSignature:
            raise AuthError(AUTH_INVALID, "bad token signature") from None
        try:
            claims = TokenClaims(
                str(payload["sub"]),
                float(payload["iat"]),
                float(payload["exp"]),
                str(payload["jti"]),
            )
        except (ValueError, KeyError, TypeError):
            raise AuthError(AUTH_INVALID, "malformed token payload") from None
        if self._clock() >= claims.expires_at:
            raise AuthError(AUTH_EXPIRED, "token has expired; ask POST /api/token for a new one")
        return claims


def looks_like_token(credential: str) -> bool:
    """True when a credential has the token shape rather than the API-key shape."""
    return credential.startswith(TOKEN_PREFIX)
