"""The real emotional-speech corpora of ``../shared/eval/emotion-speech`` and their cached features.

Corpora (each a folder with ``labels.tsv`` and ``wav/``; see ../shared/eval/README.md):

- ``casia-2spk``: CASIA, acted Mandarin, 2 speakers × 6 emotions × 50 sentences (600 clips);
- ``emodb``: EMO-DB, acted German, 10 speakers, 454 clips (disgust is already ``hate``).

Per clip, one Whisper-base encoder pass (the recognizer's own model, as the engine runs it)
pooled over the voiced frames, and the full prosodic vector of :mod:`tingshuo.dialog.prosody`,
cached in ``<cache>/bridge-features/<corpus>-<version>.npz`` so nothing is computed twice.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tingshuo.asr.encoder_pooling import EncoderStates
from tingshuo.core.audio import Audio, read_audio
from tingshuo.core.emotions import parse_emotion
from tingshuo.dialog.prosody import PROSODY_DIM, prosodic_features

log = logging.getLogger(__name__)
CORPORA: tuple[str, ...] = ("casia-2spk", "emodb")
FEATURE_VERSION = "v1-whisper-base-voiced-meanstd"
SAMPLE_RATE = 16000

EncodeFn = Callable[[np.ndarray], EncoderStates | None]


class CorpusNotFoundError(FileNotFoundError):
    """A corpus folder (``labels.tsv``) is missing under the shared data directory."""


@dataclass(frozen=True)
class CorpusFeatures:
    """Features and labels of the clips of one or more corpora (row-aligned)."""

    encoder: np.ndarray  # (n, 1024) float32
    prosody: np.ndarray  # (n, PROSODY_DIM) float32, full FEATURE_NAMES order
    speaker: np.ndarray  # (n,) str
    emotion: np.ndarray  # (n,) canonical emotion names
    corpus: np.ndarray  # (n,) corpus names
    clip: np.ndarray  # (n,) file names
    transcript: np.ndarray  # (n,) str

    def __len__(self) -> int:
        return len(self.speaker)

    def subset(self, mask: np.ndarray) -> CorpusFeatures:
        """The rows where ``mask`` is true."""
        return CorpusFeatures(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[CorpusFeatures]) -> CorpusFeatures:
        """Rows of several corpora stacked."""
        names = list(CorpusFeatures.__dataclass_fields__)
        return CorpusFeatures(*(np.concatenate([getattr(p, f) for p in parts]) for f in names))


def read_labels(corpus_dir: Path) -> list[dict[str, str]]:
    """The rows of ``labels.tsv``."""
    path = corpus_dir / "labels.tsv"
    if not path.is_file():
        raise CorpusNotFoundError(f"{path} not found (see ../shared/eval/README.md)")
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def extract(corpus_dir: Path, encode: EncodeFn, corpus: str) -> CorpusFeatures:
    """One encoder pass + prosody per clip of ``corpus_dir`` (slow: ~0.5–2 s per clip)."""
    rows = read_labels(corpus_dir)
    enc, pros = [], []
    start = time.perf_counter()
    for i, row in enumerate(rows):
        audio = read_audio(corpus_dir / "wav" / row["file"]).resample(SAMPLE_RATE)
        states = encode(np.asarray(audio.samples, dtype=np.float32))
        if states is None:
            raise ValueError(f"{row['file']}: too short for the encoder")
        enc.append(states.pooled.astype(np.float32))
        pros.append(np.nan_to_num(prosodic_features(Audio(audio.samples, SAMPLE_RATE))))
        if (i + 1) % 50 == 0:
            log.info(
                "%s: %d/%d clips, %.0f s", corpus, i + 1, len(rows), time.perf_counter() - start
            )
    return CorpusFeatures(
        encoder=np.stack(enc),
        prosody=np.stack(pros).astype(np.float32),
        speaker=np.array([r["speaker"] for r in rows]),
        emotion=np.array([parse_emotion(r["emotion"]).value for r in rows]),
        corpus=np.array([corpus] * len(rows)),
        clip=np.array([r["file"] for r in rows]),
        transcript=np.array([r.get("transcript", "") for r in rows]),
    )


def cache_path(cache_dir: Path, corpus: str) -> Path:
    """Where the features of ``corpus`` are cached."""
    return cache_dir / "bridge-features" / f"{corpus}-{FEATURE_VERSION}.npz"


def save_features(path: Path, feats: CorpusFeatures) -> None:
    """Write features atomically (plain arrays, no pickle)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **{f: getattr(feats, f) for f in CorpusFeatures.__dataclass_fields__})  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_features(path: Path) -> CorpusFeatures:
    """Read features written by :func:`save_features`."""
    with np.load(path, allow_pickle=False) as z:
        feats = CorpusFeatures(*(z[f] for f in CorpusFeatures.__dataclass_fields__))
    if feats.prosody.shape[1] != PROSODY_DIM:
        raise ValueError(f"{path}: prosody of another feature set; delete it to recompute")
    return feats


def corpus_features(
    shared_speech_dir: Path, cache_dir: Path, encode: Callable[[], EncodeFn], corpus: str
) -> CorpusFeatures:
    """Cached features of ``corpus`` (computed once; ``encode`` is built only when needed)."""
    path = cache_path(cache_dir, corpus)
    if path.is_file():
        return load_features(path)
    feats = extract(shared_speech_dir / corpus, encode(), corpus)
    save_features(path, feats)
    return feats
