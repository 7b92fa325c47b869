"""``tingshuo models``: lists ASR (and, when present, TTS) backends with readiness."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import cli


def test_models_table(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--set", f"cache_dir={tmp_path}", "models"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("asr *whisper") and "ready" in line for line in lines)
    assert any("paraformer" in line and "missing" in line for line in lines)


def test_models_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--set", f"cache_dir={tmp_path}", "models", "--json"])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    asr = {r["name"]: r for r in rows if r["kind"] == "asr"}
    assert set(asr) == {"whisper", "paraformer"}
    assert asr["whisper"]["where"].startswith(str(tmp_path))
    assert all({"kind", "name", "ready", "where", "detail"} <= set(r) for r in rows)


def test_tts_rows_are_listed_when_tts_factory_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("tts.factory")
    fake.backend_status = lambda config: [  # type: ignore[attr-defined]
        {"name": "kokoro", "ready": True, "where": "/x", "detail": "ok"}
    ]
    monkeypatch.setitem(sys.modules, "tts.factory", fake)
    result = CliRunner().invoke(cli, ["--set", f"cache_dir={tmp_path}", "models", "--json"])
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"kind": "tts", "name": "kokoro", "ready": True, "where": "/x", "detail": "ok"} in rows
