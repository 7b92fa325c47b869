"""engine.logs: bound context on every record, JSON lines, request ids over HTTP."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tests.engine_server import engine_test_config, running_server
from tingshuo.engine.logs import ContextFilter, JsonFormatter, bind, bound, context, request_id
from tingshuo.engine.services import Services


def _record(msg: str) -> logging.LogRecord:
    record = logging.LogRecord("tingshuo.test", logging.INFO, __file__, 1, msg, (), None)
    ContextFilter().filter(record)
    return record


def test_bound_fields_reach_records_and_tasks_inherit_them() -> None:
    async def scenario() -> tuple[dict[str, str], dict[str, str]]:
        bind(session="s1")
        with bound(request="r9"):
            inner = await asyncio.create_task(asyncio.sleep(0, result=context()))
        return inner, context()

    inner, after = asyncio.run(scenario())
    assert inner == {"session": "s1", "request": "r9"} and after == {"session": "s1"}
    assert context() == {}  # nothing leaks out of the task
    with bound(session="ab12"):
        record = _record("hello %s")
    line = json.loads(JsonFormatter().format(record))
    assert line["session"] == "ab12" and line["msg"] == "hello %s" and line["level"] == "INFO"
    assert record.context == " session=ab12"


def test_request_ids_are_kept_when_tame_and_made_otherwise() -> None:
    assert request_id("lb-42.a:b") == "lb-42.a:b"
    for bad in (None, "", "x" * 200, "a b", "<script>"):
        made = request_id(bad)
        assert made != bad and len(made) == 16


@pytest.fixture(scope="module")
def server():  # noqa: ANN201
    config = engine_test_config(warmup=False)
    bridge = KeywordEmotionBridge()
    services = Services(
        config, ScriptedRecognizer(["你好"]), ToneSynthesizer(), bridge, EchoKnowledgePolicy(bridge)
    )
    with running_server(config, services) as base:
        yield base


def test_http_responses_carry_the_request_id(server: str) -> None:
    given = httpx.get(server + "/healthz", headers={"X-Request-ID": "proxy-123"})
    assert given.headers["X-Request-ID"] == "proxy-123"
    made = httpx.get(server + "/readyz")
    assert len(made.headers["X-Request-ID"]) == 16
    error = httpx.post(server + "/api/synthesize", json={"text": ""})
    assert error.status_code >= 400 and "X-Request-ID" in error.headers


def test_unknown_log_format_is_a_usage_error() -> None:
    from click.testing import CliRunner

    from tingshuo.engine.cli import cli

    result = CliRunner().invoke(cli, ["--set", "log_format=xml", "models"])
    assert result.exit_code == 2 and "log format must be one of text, json" in result.output
