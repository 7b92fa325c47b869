"""The logistic-regression warm start writes the convex solution exactly into the text branch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.sparse import csr_matrix, hstack

from tingshuo.dialog.bridge_model import BridgeDims, BridgeModel
from tingshuo.joint_training import evaluate as ev
from tingshuo.joint_training.cped import cped_dir, read_cped
from tingshuo.joint_training.features import compute_features
from tingshuo.joint_training.text_init import TextInitError, logreg_warm_start, tfidf_matrix
from tingshuo.joint_training.train_bridge import ngram_idf

pytestmark = pytest.mark.slow  # trains or loads real models: not in the fast loop

DIMS = BridgeDims(
    ngram_buckets=2048, ngram_dim=16, shared=16, text_hidden=0, cosine=False, dropout=0.0
)


@pytest.fixture(scope="module")
def table(shared: Path):  # noqa: ANN201
    records, _ = read_cped(cped_dir(shared) / "valid_split.csv", "train")
    return compute_features(records[:600], DIMS.ngram_buckets, progress=False)


def test_warm_start_reproduces_the_fit(table) -> None:  # noqa: ANN001
    from sklearn.linear_model import LogisticRegression

    model = BridgeModel(DIMS)
    idf = ngram_idf(table.ngrams, DIMS.ngram_buckets)
    model.text.idf[:] = torch.from_numpy(idf)
    acc = logreg_warm_start(model, table, c=1.0)
    assert 0.3 < acc <= 1.0
    x = hstack([csr_matrix(table.embed.astype(np.float64)), tfidf_matrix(table, idf)]).tocsr()
    ref = LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced").fit(x, table.labels)
    ours = ev.logits(model, table, "text").numpy()
    assert (ours.argmax(1) == ref.predict(x)).mean() > 0.99
    np.testing.assert_allclose(
        ours[:, np.unique(table.labels)], ref.decision_function(x), atol=1e-3
    )


def test_needs_linear_dot_product_dims(table) -> None:  # noqa: ANN001
    with pytest.raises(TextInitError):
        logreg_warm_start(BridgeModel(BridgeDims(ngram_buckets=2048)), table)
