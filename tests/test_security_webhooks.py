"""Webhook targets: private, loopback and reserved addresses are refused (SSRF)."""

from __future__ import annotations

import pytest

from tingshuo.engine.security.errors import WEBHOOK_FORBIDDEN, WebhookError
from tingshuo.engine.security.webhooks import check_webhook_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd00::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://2130706433/",  # 127.0.0.1 as one integer
        "http://0x7f.1/",
    ],
)
def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(WebhookError) as err:
        check_webhook_url(url, allow_private=False)
    assert err.value.code == WEBHOOK_FORBIDDEN and err.value.http_status == 400
    check_webhook_url(url, allow_private=True)  # local use (auth off) may call them


@pytest.mark.parametrize(
    "url",
    [
        "ftp://8.8.8.8/x",
        "file:///etc/passwd",
        "http:///nohost",
        "http://user:pass@8.8.8.8/",
        "http://[::1/",
        "http://no-such-host.invalid/",
    ],
)
def test_malformed_or_unresolvable_urls_are_refused(url: str) -> None:
    with pytest.raises(WebhookError):
        check_webhook_url(url, allow_private=False)


def test_public_addresses_are_allowed() -> None:
    check_webhook_url("http://8.8.8.8/hook", allow_private=False)
    check_webhook_url("https://[2001:4860:4860::8888]:8443/hook", allow_private=False)
