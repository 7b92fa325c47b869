"""Authenticator and the loopback-only rule for running without auth."""

from __future__ import annotations

import logging

import pytest

from tingshuo.engine.config import SecurityConfig
from tingshuo.engine.security.auth import (
    ANONYMOUS,
    Authenticator,
    check_bind_policy,
    is_loopback_host,
)
from tingshuo.engine.security.errors import (
    AUTH_EXPIRED,
    AUTH_INVALID,
    AUTH_MISSING,
    AuthError,
    InsecureConfigError,
)
from tingshuo.engine.security.keys import generate_key, hash_key, key_id


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_auth_off_is_allowed_only_on_loopback_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tingshuo.security"):
        check_bind_policy("127.0.0.1", auth=False)
    assert "auth is OFF" in caplog.text
    for host in ("0.0.0.0", "10.0.0.2", "::"):
        with pytest.raises(InsecureConfigError, match="not a loopback"):
            check_bind_policy(host, auth=False)


def test_auth_on_needs_keys() -> None:
    with pytest.raises(InsecureConfigError, match="api_key_hashes is empty"):
        check_bind_policy("0.0.0.0", auth=True)
    check_bind_policy("0.0.0.0", auth=True, key_hashes=(hash_key(generate_key()),))


def _authenticator(auth: bool = True) -> tuple[Authenticator, str]:
    key = generate_key()
    config = SecurityConfig(
        auth=auth, api_key_hashes=(hash_key(key),), token_secret="t0ken-secret", token_ttl_s=60
    )
    return Authenticator.from_config(config), key


def test_key_and_token_give_the_same_principal() -> None:
    authn, key = _authenticator()
    by_key = authn.authenticate(key)
    assert by_key.id == key_id(hash_key(key)) and by_key.via == "key"
    token, _ = authn.issue_token(by_key)
    by_token = authn.authenticate(token)
    assert by_token.id == by_key.id and by_token.via == "token"


@pytest.mark.parametrize(
    ("credential", "code"),
    [
        (None, AUTH_MISSING),
        ("", AUTH_MISSING),
        ("tsk_nope", AUTH_INVALID),
        ("tst1.a.b", AUTH_INVALID),
    ],
)
def test_refusals_have_codes(credential: str | None, code: str) -> None:
    authn, _ = _authenticator()
    with pytest.raises(AuthError) as err:
        authn.authenticate(credential)
    assert err.value.code == code


def test_expired_token_is_refused() -> None:
    authn, key = _authenticator()
    principal = authn.authenticate(key)
    clock = [0.0]
    authn.signer._clock = lambda: clock[0]
    token, _ = authn.issue_token(principal)
    clock[0] = 61.0
    with pytest.raises(AuthError) as err:
        authn.authenticate(token)
    assert err.value.code == AUTH_EXPIRED


def test_auth_off_is_anonymous_but_still_checks_tokens() -> None:
    authn, _ = _authenticator(auth=False)
    assert authn.authenticate(None).id == ANONYMOUS
    assert authn.authenticate("anything").id == ANONYMOUS
    with pytest.raises(AuthError):
        authn.authenticate("tst1.forged.token")
