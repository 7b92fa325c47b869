"""Webhook targets: no requests from the engine to its own network on a client's behalf.

A job's ``webhook_url`` makes the engine POST to an address the client chose. Left open, that
lets any API client reach services only the engine can see (server-side request forgery):
loopback, private, link-local (cloud metadata at 169.254.169.254), multicast or reserved
addresses. With auth on, such targets are refused unless ``security.allow_private_webhooks``
is set; with auth off (loopback-only, local use) they are allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from tingshuo.engine.security.errors import WEBHOOK_FORBIDDEN, WebhookError


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_webhook_url(url: str, allow_private: bool) -> None:
    """Raise :class:`WebhookError` (``webhook.forbidden``) for a URL the engine must not call.

    Resolves the host name (blocking: call it in a thread) and refuses it when any of its
    addresses is not public, unless ``allow_private``.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookError(WEBHOOK_FORBIDDEN, "webhook_url is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(WEBHOOK_FORBIDDEN, "webhook_url must be an http(s) URL with a host")
    if parts.username or parts.password:
        raise WebhookError(WEBHOOK_FORBIDDEN, "webhook_url must not carry credentials")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise WebhookError(WEBHOOK_FORBIDDEN, "webhook host does not resolve") from None
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(_is_public(a) for a in addresses):
        raise WebhookError(
            WEBHOOK_FORBIDDEN, "webhook_url points to a private, loopback or reserved address"
        )
