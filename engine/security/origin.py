"""Browser Origin allowlist for WebSockets, and the client address behind trusted proxies.

Browsers send ``Origin`` on every WebSocket handshake and a page cannot forge it, so checking
it stops other web sites from driving the engine with a visitor's cookies or network position
(cross-site WebSocket hijacking). Matching is exact on the serialized origin
``scheme://host[:port]`` (RFC 6454 section 6.1), compared case-insensitively in scheme and host
as browsers serialize them in lowercase. Clients that are not browsers send no Origin and are
let through (they must still authenticate).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from tingshuo.engine.security.errors import ORIGIN_FORBIDDEN, OriginError

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _normalize(origin: str) -> str:
    return origin.strip().rstrip("/").lower()


def _same_host(origin: str, host_header: str | None) -> bool:
    """True when ``origin`` names the host (and port) the request was sent to."""
    if not host_header:
        return False
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        host = urlsplit("//" + host_header.strip())
        host_port = host.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.hostname == host.hostname
        and origin_port == host_port
        and not parts.path
        and not parts.query
    )


def check_origin(origin: str | None, allowed: Iterable[str], host_header: str | None) -> None:
    """Raise :class:`OriginError` unless ``origin`` may open a WebSocket.

    ``allowed`` is ``security.allowed_origins`` (exact values such as
    ``https://app.example.com``); when it is empty only same-host pages are accepted.
    """
    if origin is None:
        return  # not a browser
    wanted = {_normalize(a) for a in allowed}
    value = _normalize(origin)
    if wanted:
        if value in wanted:
            return
    elif value != "null" and _same_host(value, host_header):
        return
    raise OriginError(ORIGIN_FORBIDDEN, f"origin {origin[:100]!r} is not allowed")


def client_address(peer: str | None, forwarded_for: str | None, trusted: Iterable[str]) -> str:
    """The client's address: the peer, or the last untrusted hop of ``X-Forwarded-For``.

    Only when the direct peer is a configured trusted proxy (``security.trusted_proxies``,
    addresses or CIDR networks) is ``X-Forwarded-For`` believed, walking it from the right.
    """
    peer = peer or "unknown"
    networks = []
    for item in trusted:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in networks)

    if not forwarded_for or not is_trusted(peer):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return hops[0] if hops else peer
