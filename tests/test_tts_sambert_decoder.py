"""PNCA decoder: band-limited look-ahead into the memory, autoregressive over steps."""

from __future__ import annotations

import torch

from tingshuo.tts.sambert.decoder import PncaDecoder
from tingshuo.tts.sambert.dims import SambertDims

DIMS = SambertDims(
    decoder_prenet_units=(16, 16), decoder_num_layers=2, decoder_num_heads=2,
    decoder_num_units=8, decoder_ffn_inner_dim=16, num_mels=4, outputs_per_step=3,
)  # fmt: skip


def test_step_t_sees_memory_only_up_to_t_plus_band() -> None:
    torch.manual_seed(0)
    dec = PncaDecoder(DIMS, memory_dim=6).eval()
    memory = torch.randn(1, 8, 6)
    band = 2
    out = dec.infer(memory, band).view(1, 8, 3, 4)
    changed_at = 6
    mem2 = memory.clone()
    mem2[0, changed_at] += 1.0
    out2 = dec.infer(mem2, band).view(1, 8, 3, 4)
    diff = (out2 - out).abs().flatten(2).sum(-1)[0]
    assert diff[: changed_at - band].eq(0).all()  # steps 0..3 cannot see memory step 6
    assert diff[changed_at - band :].gt(0).all()


def test_output_shape_is_r_frames_per_step() -> None:
    torch.manual_seed(0)
    dec = PncaDecoder(DIMS, memory_dim=6).eval()
    assert dec.infer(torch.randn(1, 5, 6), 1).shape == (1, 15, 4)
