"""Logs never contain keys, tokens or secrets."""

from __future__ import annotations

import io
import logging

import pytest

from tingshuo.engine.security.keys import generate_key
from tingshuo.engine.security.redact import REDACTED, RedactingFilter, install_redaction, redact
from tingshuo.engine.security.tokens import TokenSigner


@pytest.mark.parametrize(
    "template",
    [
        "key {key}",
        "Authorization: Bearer {key}",
        "headers={{'authorization': 'Bearer {key}'}}",
        "x-api-key: {key}",
        '{{"api_key": "{key}"}}',
        "GET /v1/dialog?token={key}&x=1",
        "session.start token={key}",
    ],
)
def test_redact_removes_credentials(template: str) -> None:
    key = generate_key()
    token, _ = TokenSigner("secret-123", 60).issue("k")
    creds = [key, token]
    if template != "key {key}":  # a bare opaque string is only recognised by its context
        creds.append("opaque-credential-7f3a")
    for cred in creds:
        text = template.format(key=cred)
        out = redact(text)
        assert cred not in out, out
        assert REDACTED in out


def test_redact_redis_password_and_registered_secret() -> None:
    assert "hunter2" not in redact("connecting to redis://:hunter2@10.0.0.1:6379/0")
    assert "hunter2" not in redact("redis://user:hunter2@host/0")
    assert redact("plain text 你好", ["zzzsecretzzz"]) == "plain text 你好"
    assert "zzzsecretzzz" not in redact("value zzzsecretzzz here", ["zzzsecretzzz"])


def test_filter_on_handler_covers_args_exceptions_and_child_loggers() -> None:
    key = generate_key()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger("redact-test")
    root.propagate = False
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        filt = install_redaction(["my-token-secret"], logger_names=["redact-test"])
        assert isinstance(filt, RedactingFilter)
        install_redaction(logger_names=["redact-test"])  # idempotent per handler
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        child = logging.getLogger("redact-test.child")
        child.info("client sent %s", key)
        child.warning("secret is %s", "my-token-secret")
        try:
            raise ValueError(f"bad key {key}")
        except ValueError:
            child.exception("failed")
        text = stream.getvalue()
        assert key not in text
        assert "my-token-secret" not in text
        assert "ValueError" in text and "client sent" in text
    finally:
        root.removeHandler(handler)


def test_uvicorn_access_log_still_formats_and_hides_query_tokens() -> None:
    from uvicorn.logging import AccessFormatter

    token, _ = TokenSigner("secret-123", 60).issue("k")
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "GET", f"/v1/asr?token={token}", "1.1", 101), None,
    )  # fmt: skip
    assert RedactingFilter().filter(record)
    line = AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s").format(record)
    assert "GET /v1/asr?token=[REDACTED] HTTP/1.1" in line and token not in line
    assert "101" in line


def test_placeholders_in_templates_survive() -> None:
    key = generate_key()
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "auth Bearer %s token=%s key: %r",
        (key, "abc123", key),
        None,
    )
    RedactingFilter().filter(record)
    text = record.getMessage()  # no "not all arguments converted"
    assert key not in text and "abc123" not in text  # "token=" in the template, value in args
    assert text.startswith("auth Bearer [REDACTED]")
