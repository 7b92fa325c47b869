"""Precomputed bridge inputs (sentence embeddings, n-gram ids, prosodic features), cached on disk.

Training reads features, not audio: the frozen sentence encoder and Praat run once per
utterance and the arrays are stored under ``<cache>/bridge-features/<key>.npz``, where the
key hashes the records' ids, texts and audio paths (with file sizes and mtimes) and the
feature version. The cache is never committed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tingshuo.core.audio import AudioFormatError, read_audio
from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.prosody import (
    FEATURE_NAMES,
    PROSODY_DIM,
    AudioTooShortError,
    prosodic_features,
)
from tingshuo.dialog.text_features import ENCODER_NAME, SentenceEncoder, ngram_ids
from tingshuo.joint_training.manifest import ManifestRecord

log = logging.getLogger(__name__)
FEATURE_VERSION = f"1:{ENCODER_NAME}:{len(FEATURE_NAMES)}"


@dataclass
class FeatureTable:
    """Arrays for N records, aligned with ``ids``."""

    ids: list[str]
    labels: np.ndarray  # (N,) int64 index into EMOTIONS
    embed: np.ndarray  # (N, 512) float32
    ngrams: list[np.ndarray]  # per record, int64 bucket ids
    prosody: np.ndarray  # (N, PROSODY_DIM) float32, NaN rows where there is no audio
    has_audio: np.ndarray  # (N,) bool
    splits: np.ndarray  # (N,) str

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask: np.ndarray) -> FeatureTable:
        """Rows where ``mask`` is true."""
        idx = np.flatnonzero(mask)
        return FeatureTable(
            ids=[self.ids[i] for i in idx],
            labels=self.labels[idx],
            embed=self.embed[idx],
            ngrams=[self.ngrams[i] for i in idx],
            prosody=self.prosody[idx],
            has_audio=self.has_audio[idx],
            splits=self.splits[idx],
        )


def concat(tables: list[FeatureTable]) -> FeatureTable:
    """Rows of several tables, in order."""
    return FeatureTable(
        ids=[i for t in tables for i in t.ids],
        labels=np.concatenate([t.labels for t in tables]),
        embed=np.concatenate([t.embed for t in tables]),
        ngrams=[g for t in tables for g in t.ngrams],
        prosody=np.concatenate([t.prosody for t in tables]),
        has_audio=np.concatenate([t.has_audio for t in tables]),
        splits=np.concatenate([t.splits for t in tables]),
    )


def _record_key(records: list[ManifestRecord], buckets: int) -> str:
    h = hashlib.sha1(f"{FEATURE_VERSION}:{buckets}".encode())
    for r in records:
        stamp = ""
        if r.audio:
            st = os.stat(r.audio)
            stamp = f"{st.st_size}:{int(st.st_mtime)}"
        h.update(f"{r.id}\t{r.text}\t{r.audio}\t{stamp}\t{r.emotion}\t{r.split}\n".encode())
    return h.hexdigest()[:20]


def _prosody_of(args: tuple[str, str]) -> np.ndarray:
    path, text = args
    try:
        return prosodic_features(read_audio(path), text)
    except (AudioTooShortError, AudioFormatError) as exc:
        log.warning("no prosody for %s: %s", path, exc)
        return np.full(PROSODY_DIM, np.nan, dtype=np.float32)


def compute_features(
    records: list[ManifestRecord],
    buckets: int,
    encoder: SentenceEncoder | None = None,
    workers: int = 2,
    progress: bool = True,
) -> FeatureTable:
    """Compute every feature of ``records`` (no caching)."""
    encoder = encoder or SentenceEncoder()
    texts = [r.text for r in records]
    embed = encoder.encode(texts)
    ngrams = [np.asarray(ngram_ids(t, buckets), dtype=np.int64) for t in texts]
    prosody = np.full((len(records), PROSODY_DIM), np.nan, dtype=np.float32)
    audio_idx = [i for i, r in enumerate(records) if r.audio]
    jobs = [(records[i].audio or "", records[i].text) for i in audio_idx]
    if jobs:
        bar = tqdm(total=len(jobs), desc="prosody", disable=not progress, unit="utt")
        if workers > 1 and len(jobs) > 8:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for i, vec in zip(audio_idx, pool.map(_prosody_of, jobs, chunksize=8), strict=True):
                    prosody[i] = vec
                    bar.update()
        else:
            for i, job in zip(audio_idx, jobs, strict=True):
                prosody[i] = _prosody_of(job)
                bar.update()
        bar.close()
    has_audio = ~np.isnan(prosody).any(axis=1)
    order = {e: i for i, e in enumerate(EMOTIONS)}
    return FeatureTable(
        ids=[r.id for r in records],
        labels=np.asarray([order[r.emotion] for r in records], dtype=np.int64),
        embed=embed,
        ngrams=ngrams,
        prosody=prosody,
        has_audio=np.asarray(has_audio, dtype=bool),
        splits=np.asarray([r.split for r in records]),
    )


def _save(path: Path, table: FeatureTable) -> None:
    lengths = np.asarray([len(g) for g in table.ngrams], dtype=np.int64)
    flat = np.concatenate(table.ngrams) if table.ngrams else np.zeros(0, np.int64)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(
        tmp,
        ids=np.asarray(table.ids),
        labels=table.labels,
        embed=table.embed,
        ngram_flat=flat,
        ngram_len=lengths,
        prosody=table.prosody,
        splits=table.splits,
    )
    os.replace(tmp, path)


def _load(path: Path) -> FeatureTable:
    with np.load(path) as z:
        lengths = z["ngram_len"]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        flat = z["ngram_flat"]
        prosody = z["prosody"]
        return FeatureTable(
            ids=[str(i) for i in z["ids"]],
            labels=z["labels"],
            embed=z["embed"],
            ngrams=[flat[bounds[i] : bounds[i + 1]] for i in range(len(lengths))],
            prosody=prosody,
            has_audio=~np.isnan(prosody).any(axis=1),
            splits=z["splits"],
        )


def cached_features(
    records: list[ManifestRecord],
    buckets: int,
    cache_dir: Path,
    encoder: SentenceEncoder | None = None,
    workers: int = 2,
    progress: bool = True,
) -> FeatureTable:
    """:func:`compute_features`, read from / written to ``cache_dir`` (atomic writes)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{_record_key(records, buckets)}.npz"
    if path.is_file():
        log.info("bridge features from cache %s", path)
        return _load(path)
    table = compute_features(records, buckets, encoder, workers, progress)
    _save(path, table)
    return table
