"""Warm start of the bridge's text branch from a convex fit (multinomial logistic regression).

The text branch with ``text_hidden = 0`` and dot-product logits is a linear function of
[sentence embedding; tf-idf n-gram bag]. Trained from scratch by SGD it lands in a
worse spot than the regularised convex optimum, so we first solve that problem
(scikit-learn's ``LogisticRegression``, balanced class weights, L2) and write its solution
into the branch: the first seven shared-space axes carry the class scores, the prototypes
are those axes, the class priors the intercepts. Joint training then continues from there
(contrastive speech↔text, speech classification) with a reduced learning rate for the text
branch so that the convex optimum is kept unless the joint loss improves on it.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import csr_matrix, hstack

from tingshuo.dialog.bridge_model import NUM_EMOTIONS, BridgeModel
from tingshuo.joint_training.features import FeatureTable


class TextInitError(ValueError):
    """The model's dims do not allow a logistic-regression warm start."""


def tfidf_matrix(table: FeatureTable, idf: np.ndarray) -> csr_matrix:
    """The n-gram bag as a sparse matrix, weighted exactly as :class:`TextEncoderHead` does."""
    rows, cols, vals = [], [], []
    for i, ids in enumerate(table.ngrams):
        if len(ids) == 0:
            continue
        w = idf[ids]
        norm = float(np.sqrt((w * w).sum()))
        if norm <= 0:
            continue
        rows.extend([i] * len(ids))
        cols.extend(ids.tolist())
        vals.extend((w / norm).tolist())
    return csr_matrix((vals, (rows, cols)), shape=(len(table), len(idf)), dtype=np.float64)


def logreg_warm_start(
    model: BridgeModel, train: FeatureTable, c: float = 1.0, max_iter: int = 1000
) -> float:
    """Fit the logistic regression on ``train`` and write it into ``model``'s text branch.

    Returns the training accuracy of the fit. Needs ``text_hidden == 0``, ``cosine == False``,
    ``ngram_tfidf == True`` and ``ngram_dim == shared >= 7``.
    """
    from sklearn.linear_model import LogisticRegression

    d = model.dims
    if (
        d.text_hidden
        or d.cosine
        or not d.ngram_tfidf
        or d.ngram_dim != d.shared
        or d.shared < NUM_EMOTIONS
    ):
        raise TextInitError(
            "logreg warm start needs text_hidden=0, cosine=false, ngram_tfidf=true and ngram_dim == shared >= 7"
        )
    idf = model.text.idf.numpy()
    x = hstack([csr_matrix(train.embed.astype(np.float64)), tfidf_matrix(train, idf)]).tocsr()
    present = np.unique(train.labels)
    clf = LogisticRegression(C=c, max_iter=max_iter, class_weight="balanced")
    clf.fit(x, train.labels)
    coef = np.zeros((NUM_EMOTIONS, x.shape[1]))
    intercept = np.full(NUM_EMOTIONS, -20.0)  # classes absent from training are never predicted
    coef[present] = clf.coef_ if len(present) > 2 else np.vstack([-clf.coef_[0], clf.coef_[0]])
    intercept[present] = (
        clf.intercept_ if len(present) > 2 else [-clf.intercept_[0], clf.intercept_[0]]
    )
    e = d.text_embed
    with torch.no_grad():
        linear = model.text.net[-1]
        assert isinstance(linear, torch.nn.Linear)
        linear.weight.zero_()
        linear.bias.zero_()
        linear.weight[:NUM_EMOTIONS, :e] = torch.from_numpy(coef[:, :e]).float()
        linear.weight[NUM_EMOTIONS:, :e].normal_(std=0.01)  # free axes for the contrastive loss
        linear.weight[:, e:] = torch.eye(d.shared)  # the bag passes through unchanged
        model.text.ngrams.weight.normal_(std=0.01)
        model.text.ngrams.weight[:, :NUM_EMOTIONS] = torch.from_numpy(coef[:, e:].T).float()
        model.prototypes.zero_()
        model.prototypes[:, :NUM_EMOTIONS] = torch.eye(NUM_EMOTIONS)
        model.class_bias[0] = torch.from_numpy(intercept).float()
    return float(clf.score(x, train.labels))
