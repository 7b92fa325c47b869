"""Security for the engine: API keys and tokens, origins, rate limits, size limits, timeouts.

Modules (import what you need; nothing heavy happens at import time):

* :mod:`engine.security.errors` — typed refusals with documented codes (docs/security.md)
* :mod:`engine.security.keys` — key generation, sha256 hashes, constant-time verification
* :mod:`engine.security.tokens` — short-lived HMAC-signed browser tokens
* :mod:`engine.security.auth` — :class:`Authenticator`, :func:`check_bind_policy`
* :mod:`engine.security.origin` — WebSocket Origin allowlist, client address behind proxies
* :mod:`engine.security.buckets` / :mod:`engine.security.redis_store` — token buckets and
  session slots, in-process or in Redis
* :mod:`engine.security.limits` — :class:`RateLimiter`, :class:`ConnectionCap`
* :mod:`engine.security.sizes` — size limits and session timeouts
* :mod:`engine.security.redact` — log redaction of keys and tokens
"""
