"""Every security error code is documented, with the status codes the classes use."""

from __future__ import annotations

import re

from tingshuo.core.paths import repo_root
from tingshuo.engine.security import errors
from tingshuo.engine.security.errors import (
    AuthError,
    CapacityError,
    OriginError,
    RateLimitError,
    SecurityError,
    SessionTimeoutError,
    SizeLimitError,
    WebhookError,
)

CODES = {v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str) and "." in v}
CLASS_OF = {
    "auth": AuthError,
    "origin": OriginError,
    "rate": RateLimitError,
    "capacity": CapacityError,
    "limit": SizeLimitError,
    "timeout": SessionTimeoutError,
    "webhook": WebhookError,
}


def test_codes_are_documented_with_matching_statuses() -> None:
    doc = (repo_root() / "docs" / "security.md").read_text(encoding="utf-8")
    rows = {
        code: (int(http), int(ws))
        for code, http, ws in re.findall(r"^\| `([a-z_.]+)` \| (\d+) \| (\d+) \|", doc, re.M)
    }
    assert set(rows) == CODES
    for code, (http, ws) in rows.items():
        cls = CLASS_OF[code.split(".")[0]]
        err = cls(code, "x")
        assert (err.http_status, err.ws_close_code) == (http, ws), code


def test_error_payload() -> None:
    err = RateLimitError(errors.RATE_AUDIO, "slow down", retry_after=1.23456)
    assert err.to_dict() == {"code": "rate.audio", "message": "slow down", "retry_after": 1.235}
    assert str(err) == "rate.audio: slow down"
    assert SecurityError().to_dict()["code"] == "security.error"
    assert SizeLimitError(errors.LIMIT_TEXT, "", limit=3, size=4).message == "limit.text_length"
