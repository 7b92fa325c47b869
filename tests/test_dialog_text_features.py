"""Text features: the packaged multilingual encoder runs offline; n-gram hashing is stable."""

from __future__ import annotations

import numpy as np

from tingshuo.dialog.text_features import TEXT_EMBED_DIM, SentenceEncoder, char_ngrams, ngram_ids


def test_sentence_encoder_embeds_chinese_semantically() -> None:
    enc = SentenceEncoder(threads=2)
    v = enc.encode(["我要退款", "怎么申请退钱", "今天天气很好", ""])
    assert v.shape == (4, TEXT_EMBED_DIM) and v.dtype == np.float32
    assert abs(np.linalg.norm(v[0]) - 1) < 1e-3 and not v[3].any()
    assert v[0] @ v[1] > v[0] @ v[2]


def test_ngrams_drop_punctuation_and_hash_stably() -> None:
    assert char_ngrams("气 死，了！", (1, 2)) == ["气", "死", "了", "气死", "死了"]
    ids = ngram_ids("气死我了", 1024)
    assert ids == ngram_ids("气死我了", 1024)  # not Python's salted hash()
    assert all(0 <= i < 1024 for i in ids) and len(ids) == 4 + 3 + 2
