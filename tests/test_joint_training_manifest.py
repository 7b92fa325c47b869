"""Manifest loading and validation: every bad line is named with its file and line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tingshuo.core.emotions import Emotion
from tingshuo.joint_training.manifest import (
    ManifestError,
    ManifestRecord,
    read_manifest,
    write_manifest,
)


def _write(path: Path, rows: list[object]) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
        + "\n",
        encoding="utf-8",
    )
    return path


def _row(**kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": "u1",
        "audio": None,
        "text": "你好",
        "emotion": "happy",
        "speaker": "s1",
        "split": "train",
    }
    row.update(kw)
    return row


def test_round_trip_with_real_audio_relative_path(tmp_path: Path, asr_dev: Path) -> None:
    wav = tmp_path / "wav" / "a.wav"
    wav.parent.mkdir()
    wav.write_bytes((asr_dev / "wav" / "firered2s_hello_zh.wav").read_bytes())
    records = [
        ManifestRecord("a", str(wav), "你好世界", Emotion.NEUTRAL, "spk", "train"),
        ManifestRecord("b", None, "气死我了", Emotion.ANGRY, "spk2", "test", intensity=1.5),
    ]
    path = write_manifest(tmp_path / "m.jsonl", records)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    assert first["audio"] == "wav/a.wav"  # stored relative to the manifest
    loaded = read_manifest(path)
    assert [r.id for r in loaded] == ["a", "b"]
    assert loaded[0].audio == str(wav)
    assert loaded[1].emotion is Emotion.ANGRY and loaded[1].intensity == 1.5
    assert [r.id for r in read_manifest(path, splits=("test",))] == ["b"]


def test_aliases_are_accepted(tmp_path: Path) -> None:
    rec = read_manifest(_write(tmp_path / "m.jsonl", [_row(emotion="Disgust")]))[0]
    assert rec.emotion is Emotion.HATE


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (_row(emotion="furious"), "bad emotion label"),
        (_row(emotion=""), "empty or non-string emotion"),
        (_row(split="dev"), "bad split"),
        (_row(audio="missing.wav"), "audio file not found"),
        (_row(text="", audio=None), "needs text, audio or both"),
        (_row(intensity=3), "outside [0, 2]"),
        ({"id": "x", "text": "hi"}, "missing key(s) audio"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, row: object, message: str) -> None:
    path = _write(tmp_path / "m.jsonl", [_row(id="ok"), row])
    with pytest.raises(ManifestError) as err:
        read_manifest(path)
    assert f"{path}:2" in str(err.value)
    assert message in str(err.value)


def test_duplicate_ids_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="duplicate id"):
        read_manifest(_write(tmp_path / "m.jsonl", [_row(), _row()]))
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "nope.jsonl")


def test_missing_audio_can_be_tolerated_for_inspection(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.jsonl", [_row(audio="later.wav")])
    assert read_manifest(path, check_audio=False)[0].audio == str(tmp_path / "later.wav")
