"""Who is calling: API keys and tokens together, and the rule for running without auth.

The server builds one :class:`Authenticator` at startup (after :func:`check_bind_policy`)
and calls :meth:`Authenticator.authenticate` with the credential from an HTTP header or a
``session.start`` message. The result is a :class:`Principal` whose ``id`` keys the rate
limits. With auth off every caller is the anonymous principal (allowed on loopback only).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from tingshuo.engine.security.errors import AUTH_MISSING, AuthError, InsecureConfigError
from tingshuo.engine.security.keys import KeyVerifier
from tingshuo.engine.security.tokens import TokenClaims, TokenSigner, looks_like_token

log = logging.getLogger("tingshuo.security")

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. ``id`` is a key id (``k_<hash prefix>``) or ``anonymous``."""

    id: str
    via: str  # "key", "token" or "none"


def is_loopback_host(host: str) -> bool:
    """True for a bind address that only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind_policy(host: str, auth: bool, key_hashes: tuple[str, ...] = ()) -> None:
    """Refuse to start an exposed server without auth; log loudly when auth is off.

    Call once at server startup with ``server.host``, ``security.auth`` and
    ``security.api_key_hashes``. Raises :class:`InsecureConfigError` when auth is off on a
    non-loopback bind, or on with no keys configured (nobody could connect).
    """
    if auth:
        if not key_hashes:
            raise InsecureConfigError(
                "security.auth is on but security.api_key_hashes is empty: make a key with "
                "`python -m engine.security.keys new` and configure its hash"
            )
        log.info("auth is on: %d API key(s) configured", len(key_hashes))
        return
    if not is_loopback_host(host):
        raise InsecureConfigError(
            f"refusing to serve without auth on {host!r}, which is not a loopback address: "
            "turn auth on (security.auth=true with api_key_hashes) or bind 127.0.0.1"
        )
    log.warning("auth is OFF: serving without API keys on loopback bind %s (local use only)", host)


class Authenticator:
    """Turns a presented credential (API key or token) into a :class:`Principal`."""

    def __init__(self, auth: bool, verifier: KeyVerifier, signer: TokenSigner) -> None:
        self.auth = auth
        self.verifier = verifier
        self.signer = signer

    @classmethod
    def from_config(cls, security: object) -> Authenticator:
        """Build from a :class:`engine.config.SecurityConfig`."""
        return cls(
            bool(security.auth),  # type: ignore[attr-defined]
            KeyVerifier(security.api_key_hashes),  # type: ignore[attr-defined]
            TokenSigner.from_config(security.token_secret, security.token_ttl_s),  # type: ignore[attr-defined]
        )

    def authenticate(self, credential: str | None) -> Principal:
        """Check a key or token; raise :class:`AuthError` with auth.missing/invalid/expired."""
        if not self.auth:
            if credential and looks_like_token(credential):
                # A token is still checked when sent (the WebUI always sends one).
                return Principal(self.signer.verify(credential).subject, "token")
            return Principal(ANONYMOUS, "none")
        if not credential:
            raise AuthError(AUTH_MISSING, "send an API key or token")
        if looks_like_token(credential):
            return Principal(self.signer.verify(credential).subject, "token")
        return Principal(self.verifier.verify(credential), "key")

    def issue_token(
        self, principal: Principal, ttl_s: float | None = None
    ) -> tuple[str, TokenClaims]:
        """A browser token for an authenticated caller (``POST /api/token``)."""
        return self.signer.issue(principal.id, ttl_s)
