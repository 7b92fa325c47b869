"""The bridge network: shapes, losses, and that the contrastive term rewards matched pairs."""

from __future__ import annotations

import torch

from tingshuo.dialog.bridge_model import NUM_EMOTIONS, BridgeDims, BridgeModel

DIMS = BridgeDims(ngram_buckets=64, ngram_dim=8, hidden=16, shared=8, dropout=0.0)


def _batch(n: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "embed": torch.randn(n, DIMS.text_embed, generator=g),
        "ngrams": torch.randint(0, 64, (3 * n,), generator=g),
        "offsets": torch.arange(0, 3 * n, 3),
        "label": torch.arange(n) % NUM_EMOTIONS,
        "prosody": torch.randn(n, DIMS.prosody, generator=g),
    }


def test_losses_and_shapes() -> None:
    model = BridgeModel(DIMS)
    b = _batch(6)
    out = model(b, b)
    assert {"loss", "text_ce", "speech_ce", "contrastive"} <= set(out)
    assert out["loss"].ndim == 0 and out["loss"] > 0
    z = model.embed_text(b["embed"], b["ngrams"], b["offsets"])
    assert model.class_logits(z).shape == (6, NUM_EMOTIONS)
    assert model(b, None).keys() == {"text_ce", "loss"}


def test_contrastive_prefers_matched_pairs() -> None:
    model = BridgeModel(DIMS)
    z = torch.nn.functional.normalize(torch.randn(5, DIMS.shared), dim=-1)
    logits = model.pair_logits(z, z)
    assert (logits.argmax(1) == torch.arange(5)).all()
    for cosine in (True, False):
        m = BridgeModel(BridgeDims(**{**DIMS.to_dict(), "cosine": cosine}))
        assert m.class_logits(torch.randn(3, DIMS.shared), 1).shape == (3, NUM_EMOTIONS)
