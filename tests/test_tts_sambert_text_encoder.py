"""Text encoder: padding does not leak into valid tokens; positions beyond max_len work."""

from __future__ import annotations

import torch

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.text_encoder import TextEncoder

DIMS = SambertDims(
    max_len=8, embedding_dim=16, encoder_num_layers=2, encoder_num_heads=2,
    encoder_num_units=8, encoder_ffn_inner_dim=16, encoder_projection_units=4,
)  # fmt: skip


def _inputs(n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.stack(
        [torch.randint(0, hi, (1, n), generator=g) for hi in (147, 10, 8, 8)], dim=-1
    )


def test_padding_is_invisible_to_valid_tokens() -> None:
    torch.manual_seed(0)
    enc = TextEncoder(DIMS).eval()
    x = _inputs(6)
    alone = enc(x[:, :4], torch.zeros(1, 4, dtype=torch.bool))
    pad = torch.tensor([[False] * 4 + [True] * 2])
    padded = enc(x, pad)
    torch.testing.assert_close(padded[:, :4], alone, atol=1e-5, rtol=1e-5)


def test_sequences_longer_than_max_len() -> None:
    torch.manual_seed(0)
    enc = TextEncoder(DIMS).eval()
    out = enc(_inputs(20), None)
    assert out.shape == (1, 20, 4) and torch.isfinite(out).all()
    assert "ling_enc.position_enc.position_enc" not in enc.state_dict()
