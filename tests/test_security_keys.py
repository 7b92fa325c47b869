"""API keys: hashes only in config, constant-time verification, header parsing."""

from __future__ import annotations

import hashlib

import pytest
from starlette.datastructures import Headers

from tingshuo.engine.security.errors import (
    AUTH_INVALID,
    AUTH_MISSING,
    AuthError,
    InsecureConfigError,
)
from tingshuo.engine.security.keys import (
    KeyVerifier,
    credential_from_headers,
    generate_key,
    hash_key,
    key_id,
    main,
)


def test_generated_keys_are_unique_and_hash_is_sha256() -> None:
    keys = {generate_key() for _ in range(100)}
    assert len(keys) == 100
    key = keys.pop()
    assert key.startswith("tsk_") and len(key) >= 40
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()


def test_verify_accepts_configured_keys_and_returns_public_id() -> None:
    a, b = generate_key(), generate_key()
    verifier = KeyVerifier([hash_key(a), hash_key(b).upper()])
    assert verifier.verify(a) == key_id(hash_key(a))
    assert verifier.verify(b) == key_id(hash_key(b))
    assert verifier.verify(a) != verifier.verify(b)
    assert a not in verifier.verify(a)  # the id never contains the key


@pytest.mark.parametrize(
    ("key", "code"), [(None, AUTH_MISSING), ("", AUTH_MISSING), ("tsk_wrong", AUTH_INVALID)]
)
def test_verify_refuses_missing_and_unknown(key: str | None, code: str) -> None:
    verifier = KeyVerifier([hash_key(generate_key())])
    with pytest.raises(AuthError) as err:
        verifier.verify(key)
    assert err.value.code == code
    assert err.value.http_status == 401


def test_a_hash_is_not_a_key() -> None:
    key = generate_key()
    verifier = KeyVerifier([hash_key(key)])
    with pytest.raises(AuthError):
        verifier.verify(hash_key(key))  # sending the stored digest does not work


def test_clear_keys_in_config_are_refused() -> None:
    with pytest.raises(InsecureConfigError, match="sha256"):
        KeyVerifier(["tsk_this_is_a_clear_key"])


def test_credential_from_headers() -> None:
    assert credential_from_headers(Headers({"Authorization": "Bearer abc"})) == "abc"
    assert credential_from_headers(Headers({"authorization": "bearer  abc "})) == "abc"
    assert credential_from_headers(Headers({"X-API-Key": "k1"})) == "k1"
    assert credential_from_headers(Headers({})) is None
    assert credential_from_headers(Headers({"X-API-Key": "  "})) is None
    with pytest.raises(AuthError) as err:
        credential_from_headers(Headers({"Authorization": "Basic dXNlcjpwYXNz"}))
    assert err.value.code == AUTH_INVALID


def test_cli_prints_key_and_matching_hash(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new"]) == 0
    out = capsys.readouterr().out.splitlines()
    key = out[0].rsplit(" ", 1)[1]
    digest = out[1].rsplit(" ", 1)[1]
    assert hash_key(key) == digest
    assert main(["hash", key]) == 0
    assert capsys.readouterr().out.strip() == digest
    assert main([]) == 2
