"""``tingshuo emotion`` end to end through the real CLI group."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
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


def _casia(shared: Path) -> tuple[Path, list[dict[str, str]]]:
    import csv

    root = shared / "eval" / "emotion-speech" / "casia-2spk"
    if not (root / "labels.tsv").is_file():
        pytest.skip("casia-2spk not in ../shared")
    with (root / "labels.tsv").open(encoding="utf-8") as fh:
        return root / "wav", list(csv.DictReader(fh, delimiter="\t"))


@pytest.mark.slow
def test_a_casia_clip_of_each_emotion_prints_its_distribution(shared: Path) -> None:
    wav_dir, rows = _casia(shared)
    picks = {}
    for r in rows:  # the first clip of each emotion of one speaker (no choice by result)
        if r["speaker"] == "wangzhe":
            picks.setdefault(r["emotion"], wav_dir / r["file"])
    result = CliRunner().invoke(cli, ["emotion", "--json", *map(str, picks.values())])
    assert result.exit_code == 0, result.output
    outs = [json.loads(line) for line in result.output.strip().splitlines()]
    assert len(outs) == 6
    for out in outs:
        assert set(out["distribution"]) == {
            "neutral",
            "happy",
            "angry",
            "sad",
            "fear",
            "hate",
            "surprise",
        }
        assert abs(sum(out["distribution"].values()) - 1) < 1e-3
        assert out["source"] == "fused" and out["transcript"]  # one pass: text + encoder states
    same = CliRunner().invoke(
        cli, ["emotion", "--same-speaker", "--json", *map(str, picks.values())]
    )
    assert same.exit_code == 0, same.output
    assert len(same.output.strip().splitlines()) == 6
    assert same.output != result.output  # normalised against the six files, not the corpus


def test_silent_short_and_wrong_format_audio_get_typed_errors(shared: Path, tmp_path: Path) -> None:
    wav_dir, rows = _casia(shared)
    clip, sr = sf.read(wav_dir / rows[0]["file"], dtype="float32")
    sf.write(tmp_path / "silent.wav", np.zeros_like(clip), sr)
    sf.write(tmp_path / "short.wav", clip[: int(0.05 * sr)], sr)
    (tmp_path / "text.wav").write_text("not audio at all", encoding="utf-8")
    for name, code in (
        ("silent", "silent_audio"),
        ("short", "too_short_audio"),
        ("text", "bad_audio"),
    ):
        result = CliRunner().invoke(
            cli, ["emotion", "--no-asr", "--json", str(tmp_path / f"{name}.wav")]
        )
        assert result.exit_code == 1, result.output
        out = json.loads(result.output.strip().splitlines()[-1])
        assert out["error"]["code"] == code, out
