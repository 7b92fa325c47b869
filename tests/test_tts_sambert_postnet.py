"""Post-net: residual refinement, zero on padded frames."""

from __future__ import annotations

import torch

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.postnet import PostNet


def test_residual_and_padding() -> None:
    dims = SambertDims(
        num_mels=4, postnet_filter_size=5, postnet_fsmn_num_layers=2, postnet_num_memory_units=8,
        postnet_ffn_inner_dim=16, postnet_shift=1, postnet_lstm_units=8,
    )  # fmt: skip
    torch.manual_seed(0)
    net = PostNet(dims).eval()
    mel = torch.randn(1, 6, 4)
    pad = torch.tensor([[False] * 5 + [True]])
    out = net(mel, pad)
    assert torch.all(out[0, 5] == 0)
    with torch.no_grad():
        net.fc.weight.zero_()
        net.fc.bias.zero_()
    torch.testing.assert_close(net(mel, pad)[0, :5], mel[0, :5])
