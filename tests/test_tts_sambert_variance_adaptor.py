"""Variance adaptor: length regulation, in-token positions, rate scaling, band width."""

from __future__ import annotations

import math

import torch

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.variance_adaptor import VarianceAdaptor, regulate_length


def test_regulate_length_repeats_and_numbers_frames() -> None:
    x = torch.tensor([[[1.0], [2.0], [3.0]]])
    out, pos = regulate_length(x, torch.tensor([[2, 0, 3]]), total=6)
    assert out[0, :, 0].tolist() == [1, 1, 3, 3, 3, 0]
    assert pos[0].tolist() == [1, 2, 1, 2, 3, 0]


def _adaptor(frames: float) -> VarianceAdaptor:
    dims = SambertDims(
        encoder_projection_units=8, speaker_units=8, emotion_units=8,
        predictor_num_memory_units=8, predictor_ffn_inner_dim=16, predictor_lstm_units=8,
        predictor_filter_size=5, dur_pred_prenet_units=(8, 8), dur_pred_lstm_units=8,
    )  # fmt: skip
    torch.manual_seed(0)
    va = VarianceAdaptor(dims).eval()
    with torch.no_grad():
        va.duration_predictor.fc.weight.zero_()
        va.duration_predictor.fc.bias.fill_(math.log(1 + frames))
    return va


def test_durations_rate_and_band() -> None:
    va = _adaptor(frames=7.0)
    h = torch.randn(1, 4, 8)
    out = va(h, h, h, torch.tensor([4]), None)
    assert out.valid_lengths.tolist() == [28] and out.lr_text.shape == (1, 30, 8)
    assert out.band_width == int(7.0 / 3 + 0.5)
    assert torch.all(out.lr_spk[0, 28:] == 0)
    fast = va(h, h, h, torch.tensor([4]), None, duration_scale=0.5)
    assert fast.valid_lengths.tolist() == [4 * int(3.5 + 0.5)]


def test_zero_durations_give_empty_output() -> None:
    va = _adaptor(frames=0.0)
    h = torch.randn(1, 3, 8)
    out = va(h, h, h, torch.tensor([3]), None)
    assert out.valid_lengths.tolist() == [0] and out.lr_text.shape[1] == 3
