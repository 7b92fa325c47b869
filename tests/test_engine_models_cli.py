"""``tingshuo models``: lists ASR and TTS backends with readiness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tingshuo.engine.cli import cli


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


def test_tts_rows_are_listed(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--set", f"cache_dir={tmp_path}", "models", "--json"])
    rows = {r["name"]: r for r in map(json.loads, result.stdout.splitlines()) if r["kind"] == "tts"}
    assert set(rows) == {"kokoro", "sambert"}
    assert rows["kokoro"]["ready"] is True  # the weight packages are installed
    assert rows["kokoro"]["where"].startswith(str(tmp_path))
    assert rows["sambert"]["ready"] is False and "model_dir" in rows["sambert"]["detail"]


def test_kokoro_row_shows_the_native_voices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The eight native Mandarin voices are listed first (default leading) and the detail says
    where they stand: fetched on first use with npm, or what to install when npm is missing."""
    result = CliRunner().invoke(cli, ["--set", f"cache_dir={tmp_path}", "models", "--json"])
    kokoro = next(r for r in map(json.loads, result.stdout.splitlines()) if r["name"] == "kokoro")
    if "npm is not installed" not in kokoro["detail"]:
        assert kokoro["voices"][0] == "zm_yunjian"
        assert [v[:3] in ("zf_", "zm_") for v in kokoro["voices"]] == [True] * 8 + [False] * 5
        assert "npm pack kokoro-js@1.2.1" in kokoro["detail"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = CliRunner().invoke(cli, ["--set", f"cache_dir={tmp_path}", "models"])
    assert "npm is not installed (sudo apt-get install -y nodejs npm)" in result.stdout
    assert "voices: jf_gongitsune jf_alpha" in result.stdout
