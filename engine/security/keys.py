"""API keys: generated at random, configured only as sha256 hashes, verified in constant time.

A key is shown once, when made (``python -m engine.security.keys new``); the server keeps only
``sha256(key)`` hex digests (``security.api_key_hashes``). A presented key is hashed and compared
against every configured digest with :func:`hmac.compare_digest`, without an early exit, so the
time taken does not reveal which digest, or how much of one, matched.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from collections.abc import Iterable, Mapping

from tingshuo.engine.security.errors import (
    AUTH_INVALID,
    AUTH_MISSING,
    AuthError,
    InsecureConfigError,
)

KEY_PREFIX = "tsk_"  # makes keys recognisable (and redactable) in text
KEY_ID_CHARS = 12  # hex digits of the hash used as a public key id (rate limits, logs)
_HEX = frozenset("0123456789abcdef")


def generate_key() -> str:
    """A new random API key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The sha256 hex digest under which a key is configured."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_id(key_hash: str) -> str:
    """A short public id for a key: a prefix of its hash (safe to log, used for rate limits)."""
    return "k_" + key_hash[:KEY_ID_CHARS]


class KeyVerifier:
    """Checks presented keys against the configured hashes."""

    def __init__(self, key_hashes: Iterable[str]) -> None:
        hashes = []
        for h in key_hashes:
            h = h.strip().lower()
            if len(h) != 64 or not set(h) <= _HEX:
                raise InsecureConfigError(
                    "security.api_key_hashes must hold sha256 hex digests (64 hex chars), "
                    "not keys; make one with `python -m engine.security.keys hash`"
                )
            hashes.append(h.encode("ascii"))
        self._hashes = tuple(hashes)

    def __len__(self) -> int:
        return len(self._hashes)

    def verify(self, key: str | None) -> str:
        """Return the key id of a valid key; raise :class:`AuthError` otherwise."""
        if not key:
            raise AuthError(AUTH_MISSING, "an API key is required")
        digest = hash_key(key).encode("ascii")
        found = b""
        for candidate in self._hashes:  # no early exit: same work whichever one matches
            if hmac.compare_digest(digest, candidate):
                found = candidate
        if not found:
            raise AuthError(AUTH_INVALID, "the API key is not valid")
        return key_id(found.decode("ascii"))


def credential_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key or token sent as ``Authorization: Bearer <x>`` or ``X-API-Key: <x>``.

    ``headers`` must be case-insensitive (Starlette's ``Headers`` is) or use lowercase names.
    """
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise AuthError(AUTH_INVALID, "Authorization must be 'Bearer <key or token>'")
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.security.keys new|hash [KEY]``: make a key, or hash one from stdin/arg."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["new"]:
        key = generate_key()
        print(f"key (give to the client, shown once): {key}")
        print(f"hash (put in security.api_key_hashes): {hash_key(key)}")
        return 0
    if args[:1] == ["hash"]:
        key = args[1] if len(args) > 1 else sys.stdin.readline().strip()
        print(hash_key(key))
        return 0
    print("usage: python -m engine.security.keys new | hash [KEY]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
