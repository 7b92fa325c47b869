"""Origin allowlist (exact match) and client address behind trusted proxies."""

from __future__ import annotations

import pytest

from tingshuo.engine.security.errors import ORIGIN_FORBIDDEN, OriginError
from tingshuo.engine.security.origin import check_origin, client_address

ALLOWED = ("https://app.example.com", "http://127.0.0.1:8000")


@pytest.mark.parametrize(
    "origin", ["https://app.example.com", "HTTPS://APP.EXAMPLE.COM", "http://127.0.0.1:8000", None]
)
def test_allowed(origin: str | None) -> None:
    check_origin(origin, ALLOWED, "engine.internal:8000")


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.com",
        "https://app.example.com.evil.com",  # suffix trick
        "https://evil.com/https://app.example.com",
        "http://app.example.com",  # wrong scheme
        "https://app.example.com:444",  # wrong port
        "http://127.0.0.1:8001",
        "null",
        "",
    ],
)
def test_refused_with_code(origin: str) -> None:
    with pytest.raises(OriginError) as err:
        check_origin(origin, ALLOWED, "engine.internal:8000")
    assert err.value.code == ORIGIN_FORBIDDEN
    assert err.value.http_status == 403


def test_empty_allowlist_means_same_host_only() -> None:
    check_origin("http://127.0.0.1:8000", (), "127.0.0.1:8000")
    check_origin("https://tts.example.org", (), "tts.example.org")
    for origin, host in [
        ("http://127.0.0.1:8000", "127.0.0.1:8001"),
        ("http://localhost:8000", "127.0.0.1:8000"),
        ("https://evil.org", "tts.example.org"),
        ("http://127.0.0.1:8000", None),
        ("null", "127.0.0.1:8000"),
        ("http://127.0.0.1:8000/path", "127.0.0.1:8000"),
    ]:
        with pytest.raises(OriginError):
            check_origin(origin, (), host)


def test_client_address_ignores_forwarded_for_from_untrusted_peers() -> None:
    assert client_address("203.0.113.9", "1.2.3.4", ()) == "203.0.113.9"
    assert client_address("203.0.113.9", "1.2.3.4", ("10.0.0.0/8",)) == "203.0.113.9"
    assert client_address(None, None, ()) == "unknown"


def test_client_address_behind_trusted_proxies() -> None:
    trusted = ("10.0.0.0/8", "127.0.0.1")
    # client, then a spoofed hop the client added, then our proxies
    assert client_address("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.0.0.9", trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", "198.51.100.7", trusted) == "198.51.100.7"
    assert client_address("10.0.0.5", "not-an-ip", trusted) == "10.0.0.5"
    assert client_address("10.0.0.5", "10.0.0.7", trusted) == "10.0.0.7"
