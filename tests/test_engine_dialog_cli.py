"""``tingshuo emotion`` end to end through the real CLI group."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tingshuo.engine.cli import cli


def test_text_json() -> None:
    result = CliRunner().invoke(
        cli, ["emotion", "--text", "你们这服务太差了，我要投诉！气死我了", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["input"] == "text" and out["source"] == "text"
    assert out["emotion"] == "angry"
    assert out["reply_style"]["emotion"] != "angry"


def test_files_with_text_human_readable(asr_dev: Path) -> None:
    wav = asr_dev / "wav" / "firered2s_hello_zh.wav"
    result = CliRunner().invoke(cli, ["emotion", str(wav), "--text", "你好世界"])
    assert result.exit_code == 0, result.output
    assert "fused" in result.output and "-> reply" in result.output


def test_usage_errors(tmp_path: Path) -> None:
    assert CliRunner().invoke(cli, ["emotion"]).exit_code == 2
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not audio")
    result = CliRunner().invoke(cli, ["emotion", str(bad)])
    assert result.exit_code == 1 and "error" in result.output
