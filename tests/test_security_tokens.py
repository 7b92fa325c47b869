"""Browser tokens: issue, verify, expire, tamper."""

from __future__ import annotations

import pytest

from tingshuo.engine.security.errors import AUTH_EXPIRED, AUTH_INVALID, AuthError
from tingshuo.engine.security.tokens import TokenSigner, looks_like_token


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_issue_then_verify_round_trip() -> None:
    clock = FakeClock()
    signer = TokenSigner("s3cret-value", ttl_s=300, clock=clock)
    token, claims = signer.issue("k_abc")
    assert looks_like_token(token)
    got = signer.verify(token)
    assert got == claims
    assert got.subject == "k_abc" and got.expires_at - got.issued_at == 300
    assert signer.issue("k_abc")[0] != token  # unique ids


def test_token_expires() -> None:
    clock = FakeClock()
    signer = TokenSigner("s3cret-value", ttl_s=60, clock=clock)
    token, _ = signer.issue("k_abc")
    clock.now += 59.9
    signer.verify(token)
    clock.now += 0.1
    with pytest.raises(AuthError) as err:
        signer.verify(token)
    assert err.value.code == AUTH_EXPIRED


def test_requested_ttl_is_capped() -> None:
    signer = TokenSigner("s3cret-value", ttl_s=60, clock=FakeClock())
    _, claims = signer.issue("x", ttl_s=10_000)
    assert claims.expires_at - claims.issued_at == 60
    _, claims = signer.issue("x", ttl_s=5)
    assert claims.expires_at - claims.issued_at == 5


def test_other_secret_or_tampering_is_invalid() -> None:
    clock = FakeClock()
    signer = TokenSigner("s3cret-value", ttl_s=60, clock=clock)
    token, _ = signer.issue("k_abc")
    with pytest.raises(AuthError) as err:
        TokenSigner("other-secret", ttl_s=60, clock=clock).verify(token)
    assert err.value.code == AUTH_INVALID
    # A payload with a longer expiry grafted onto the genuine signature: refused.
    longer = TokenSigner("other-secret", ttl_s=10_000, clock=clock).issue("k_abc")[0]
    forged_body = longer[len("tst1.") :].rsplit(".", 1)[0]
    with pytest.raises(AuthError) as err:
        signer.verify(f"tst1.{forged_body}.{token.rsplit('.', 1)[1]}")
    assert err.value.code == AUTH_INVALID


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "tst1.",
        "tst1..",
        "tst1.abc",
        "tst1.a.b",
        "tsk_key",
        "x" * 5000,
        "tst1.%%%.%%%",
        None,
        42,
    ],
)
def test_garbage_is_invalid(bad: object) -> None:
    signer = TokenSigner("s3cret-value", ttl_s=60)
    with pytest.raises(AuthError) as err:
        signer.verify(bad)  # type: ignore[arg-type]
    assert err.value.code == AUTH_INVALID


def test_signed_but_malformed_payload_is_invalid() -> None:
    signer = TokenSigner("s3cret-value", ttl_s=60)
    token = signer.sign_payload({"sub": 1})
    with pytest.raises(AuthError) as err:
        signer.verify(token)
    assert err.value.code == AUTH_INVALID


def test_from_config_without_secret_makes_a_random_one() -> None:
    a = TokenSigner.from_config("", 60)
    b = TokenSigner.from_config("", 60)
    token, _ = a.issue("k")
    a.verify(token)
    with pytest.raises(AuthError):
        b.verify(token)  # per-process secret: another process cannot verify
    with pytest.raises(ValueError):
        TokenSigner("", 60)
    with pytest.raises(ValueError):
        TokenSigner("x", 0)
