"""The one manifest format for emotion data: JSON lines, one utterance per line.

Each line is an object with

    {"id": "cped-32_000_000", "audio": "wav/x.wav" | null, "text": "怎么了",
     "emotion": "surprise", "speaker": "于春晓", "split": "train"}

``audio`` is a path (relative paths are resolved against the manifest's folder) or
``null`` for text-only corpora such as CPED; ``emotion`` is a canonical name (or one of
:func:`engine.emotions.parse_emotion`'s aliases); ``split`` is ``train``, ``valid`` or
``test``. Optional keys: ``intensity`` (0..2, the rendered emotion strength of generated
speech), ``voice``, ``rate`` and ``source``. Any real corpus (ESD, CASIA; see
docs/emotion-data.md) plugs in by writing this format.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tingshuo.core.emotions import Emotion, UnknownEmotionError, parse_emotion

SPLITS: tuple[str, ...] = ("train", "valid", "test")
REQUIRED_KEYS: tuple[str, ...] = ("id", "audio", "text", "emotion", "speaker", "split")


class ManifestError(ValueError):
    """A manifest line that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class ManifestRecord:
    """One utterance: optional audio, its text and its emotion label."""

    id: str
    audio: str | None  # absolute path once loaded, or None for text-only rows
    text: str
    emotion: Emotion
    speaker: str
    split: str
    intensity: float = 1.0
    voice: str = ""
    rate: float = 1.0
    source: str = ""

    def to_json(self, relative_to: Path | None = None) -> dict[str, Any]:
        """The JSON object for this record (audio relative to ``relative_to`` if inside it)."""
        row = asdict(self)
        row["emotion"] = self.emotion.value
        if self.audio and relative_to is not None:
            with contextlib.suppress(ValueError):
                row["audio"] = str(Path(self.audio).resolve().relative_to(relative_to.resolve()))
        return row


def _record_from(row: Any, where: str, base: Path, check_audio: bool) -> ManifestRecord:
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in row]
    if missing:
        raise ManifestError(f"{where}: missing key(s) {', '.join(missing)}")
    if not isinstance(row["emotion"], str) or not row["emotion"].strip():
        raise ManifestError(f"{where}: empty or non-string emotion label")
    try:
        emotion = parse_emotion(row["emotion"])
    except UnknownEmotionError as exc:
        raise ManifestError(f"{where}: bad emotion label: {exc}") from None
    split = str(row["split"])
    if split not in SPLITS:
        raise ManifestError(f"{where}: bad split {split!r}; expected one of {', '.join(SPLITS)}")
    text = row["text"] if isinstance(row["text"], str) else ""
    audio = row["audio"]
    if audio is not None:
        if not isinstance(audio, str) or not audio:
            raise ManifestError(f"{where}: 'audio' must be a path or null")
        path = Path(audio).expanduser()
        if not path.is_absolute():
            path = base / path
        if check_audio and not path.is_file():
            raise ManifestError(f"{where}: audio file not found: {path}")
        audio = str(path)
    if audio is None and not text.strip():
        raise ManifestError(f"{where}: a row needs text, audio or both")
    try:
        intensity = float(row.get("intensity", 1.0))
        rate = float(row.get("rate", 1.0))
    except (TypeError, ValueError):
        raise ManifestError(f"{where}: 'intensity' and 'rate' must be numbers") from None
    if not 0.0 <= intensity <= 2.0:
        raise ManifestError(f"{where}: intensity {intensity} outside [0, 2]")
    return ManifestRecord(
        id=str(row["id"]),
        audio=audio,
        text=text,
        emotion=emotion,
        speaker=str(row["speaker"]),
        split=split,
        intensity=intensity,
        voice=str(row.get("voice", "")),
        rate=rate,
        source=str(row.get("source", "")),
    )


def read_manifest(
    path: str | Path, check_audio: bool = True, splits: Iterable[str] | None = None
) -> list[ManifestRecord]:
    """Load and validate a manifest; raise :class:`ManifestError` naming the first bad line.

    ``splits`` keeps only rows of those splits; ids must be unique within the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    keep = set(splits) if splits is not None else None
    records: list[ManifestRecord] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{where}: not valid JSON ({exc.msg})") from None
            record = _record_from(row, where, path.parent, check_audio)
            if record.id in seen:
                raise ManifestError(f"{where}: duplicate id {record.id!r}")
            seen.add(record.id)
            if keep is None or record.split in keep:
                records.append(record)
    return records


def write_manifest(path: str | Path, records: Iterable[ManifestRecord]) -> Path:
    """Write records as JSON lines (atomically: temp file then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record.to_json(path.parent), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
