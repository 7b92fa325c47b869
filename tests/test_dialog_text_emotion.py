"""The text-emotion model (char/word n-gram TF-IDF, NB-LR and USE branches folded into one
linear map) on made-up data: what it learns, its calibration fallbacks and its storage."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tingshuo.dialog import text_emotion as te

CUES = {
    "neutral": "请问一下",
    "happy": "太开心了",
    "angry": "气死我了",
    "sad": "好难过啊",
    "fear": "好害怕呀",
    "surprise": "竟然这样",
}


def _data(n: int = 30) -> tuple[list[str], list[str], np.ndarray]:
    rng = np.random.default_rng(1)
    texts, labels, emb = [], [], []
    centres = rng.normal(size=(len(CUES), te.USE_DIM))
    for i in range(n):
        for j, (e, cue) in enumerate(CUES.items()):
            texts.append(f"{cue}{i}号")
            labels.append(e)
            v = centres[j] + rng.normal(scale=3.0, size=te.USE_DIM)
            emb.append(v / np.linalg.norm(v))
    return texts, labels, np.asarray(emb, np.float32)


@pytest.fixture(scope="module")
def trained() -> tuple[te.TextEmotionModel, np.ndarray]:
    texts, labels, emb = _data()
    return te.train(texts, labels, embeddings=emb, holdout=40, log=lambda _: None), emb


def test_learns_the_cues_with_and_without_encoder(
    trained: tuple[te.TextEmotionModel, np.ndarray],
) -> None:
    model, emb = trained
    assert model.has_use and set(model.classes) == set(CUES)
    texts = [f"{cue}，真的" for cue in CUES.values()]
    for p in (model.predict_proba(texts), model.predict_proba(texts, embeddings=emb[:6])):
        assert p.shape == (6, len(te.CANONICAL)) and np.allclose(p.sum(1), 1.0, atol=1e-5)
        assert p[:, te.CANONICAL.index("hate")].max() == 0.0  # never trained on hate
        got = [te.CANONICAL[i] for i in p.argmax(1)]
        assert got == list(CUES)
    assert model.temperature > 0 and model.temperature_no_use > 0
    assert abs(sum(model.mix.values()) - 1.0) < 1e-6


def test_vocabulary_lookup_ignores_unknown_ngrams() -> None:
    keys = np.array([5, 9, 40], dtype=np.uint32)
    vocab = te.Vocab(keys=keys, idf=np.array([1.0, 2.0, 3.0], np.float32))
    ids, vals = vocab.lookup(Counter({9: 1, 7: 3, 40: 2}))
    assert ids.tolist() == [1, 2]
    raw = np.array([2.0, (1 + np.log(2)) * 3.0])
    assert np.allclose(vals, raw / np.linalg.norm(raw))
    assert len(vocab.lookup(Counter())[0]) == 0


def test_ngram_keys_cover_chars_and_words() -> None:
    chars, words = te.ngram_keys("ＡＢ气死", orders=(1, 2), word_orders=())
    assert sum(chars.values()) == 4 + 3 and not words  # NFKC + lower case: "ab气死"
    assert te.ngram_keys("ab气死", orders=(1, 2), word_orders=())[0] == chars


def test_int8_quantisation_error_is_bounded() -> None:
    w = np.random.default_rng(0).normal(size=(1000, 6)).astype(np.float32)
    q, scale = te._quantise(w)
    assert q.dtype == np.int8
    assert np.abs(q * scale - w).max() <= scale.max() / 2 + 1e-6


def test_round_trip_without_pickle(
    trained: tuple[te.TextEmotionModel, np.ndarray], tmp_path: Path
) -> None:
    model, emb = trained
    paths = model.save(tmp_path)
    assert [p.name for p in paths] == list(te.FILES)
    for name in te.FILES[:2]:
        with np.load(tmp_path / name, allow_pickle=False) as z:
            assert all(z[k].dtype != object for k in z.files)
    loaded = te.TextEmotionModel.load(tmp_path, encoder=None)
    texts = ["气死我了，真的", "太开心了"]
    assert np.array_equal(loaded.char_vocab.keys, model.char_vocab.keys)
    assert np.allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=2e-3)
    assert np.allclose(
        loaded.predict_proba(texts, embeddings=emb[:2]),
        model.predict_proba(texts, embeddings=emb[:2]),
        atol=2e-3,
    )  # idf stored as float16


def test_shipped_checkpoint_size_and_text_model() -> None:
    d = Path(te.__file__).parent / "checkpoints" / "bridge-default"
    files = [p for p in d.iterdir() if p.is_file()]
    assert all(p.stat().st_size < 5 * 2**20 for p in files)
    assert sum(p.stat().st_size for p in files) <= 10_000_000
    model = te.TextEmotionModel.load(d, encoder=None)  # n-gram part, no encoder needed
    assert model.has_use and set(model.classes) == set(te.SMP_LABELS)
    p = model.predict_proba(["今天太开心了，哈哈哈", "气死我了，什么破服务"])
    assert np.allclose(p.sum(1), 1.0, atol=1e-5)
    assert [te.CANONICAL[i] for i in p.argmax(1)] == ["happy", "angry"]
