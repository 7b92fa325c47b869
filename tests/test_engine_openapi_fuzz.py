"""The HTTP API against its own OpenAPI schema (schemathesis): no input gives a 5xx.

Every operation in ``/openapi.json`` gets a bounded number of generated requests (valid and
invalid per the schema) against a real server with fast model doubles; the check is
schemathesis's ``not_a_server_error``. ``OPENAPI_EXAMPLES`` raises the bound for a longer run.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the [test] extra")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from tests.engine_doubles import (  # noqa: E402  # noqa: E402
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tests.engine_server import engine_test_config, running_server  # noqa: E402
from tingshuo.engine.services import Services  # noqa: E402

EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def api_schema():  # noqa: ANN201
    config = engine_test_config(
        warmup=False, webhook_retries=0, webhook_timeout_s=0.5, download_ttl_s=60
    )
    sec = dataclasses.replace(
        config.security, http_requests_per_min=0, http_requests_per_min_per_ip=0
    )
    config = dataclasses.replace(config, security=sec)
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        ScriptedRecognizer(["你好"]),
        ToneSynthesizer(),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    with running_server(config, services) as base:
        yield schemathesis.openapi.from_url(base + "/openapi.json")


def test_no_server_errors(api_schema) -> None:  # noqa: ANN001
    """Each operation in turn (schemathesis's pytest plugin does not support pytest 9 yet)."""
    from hypothesis import given

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8  # synthesize, speech, transcriptions, jobs, token, ...
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # noqa: ANN001
            case.call_and_validate(checks=[not_a_server_error], timeout=30)

        try:
            check()
        except Exception as exc:  # collect every failing operation, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
