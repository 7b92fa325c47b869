"""Shared SAM-BERT layers: position tables, prenet layout, FSMN memory reach and masking."""

from __future__ import annotations

import math

import pytest
import torch

from tingshuo.tts.sambert.layers import (
    FsmnEncoder,
    MemoryBlock,
    Prenet,
    duration_position_encoding,
    duration_timescales,
    sinusoid_token_table,
)


def test_token_table_is_one_based_sin_cos_halves() -> None:
    table = sinusoid_token_table(5, 8)[0]
    assert table.shape == (5, 8)
    # position 1, j = 0: angle 1; j = 3 (last of the half): angle 1 / 10000
    assert math.isclose(table[0, 0].item(), math.sin(1.0), rel_tol=1e-6)
    assert math.isclose(table[0, 4].item(), math.cos(1.0), rel_tol=1e-6)
    assert math.isclose(table[0, 3].item(), math.sin(1e-4), rel_tol=1e-4)
    assert math.isclose(table[4, 1].item(), math.sin(5 / 10000 ** (1 / 3)), rel_tol=1e-6)


def test_duration_encoding_interleaves_and_pads_with_zero_one() -> None:
    ts = duration_timescales(6)
    expected = [1.0, 1.0, 10000 ** (2 / 6), 10000 ** (2 / 6), 10000 ** (4 / 6), 10000 ** (4 / 6)]
    assert ts.tolist() == pytest.approx(expected, rel=1e-6)
    pe = duration_position_encoding(torch.tensor([[0.0, 2.0]]), ts)[0]
    assert pe[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert math.isclose(pe[1, 0].item(), math.sin(2.0), rel_tol=1e-6)
    assert math.isclose(pe[1, 1].item(), math.cos(2.0), rel_tol=1e-6)


def test_prenet_linear_indices() -> None:
    keys = list(Prenet(80, [256, 256], 128).state_dict())
    assert keys == [f"fcs.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
    assert list(Prenet(1, [4, 4]).state_dict())[-1] == "fcs.3.bias"


def test_memory_block_reach_follows_shift() -> None:
    """Filter 5, shift 1: output t sees inputs t-3..t+1 and nothing later."""
    torch.manual_seed(0)
    block = MemoryBlock(2, 5, shift=1).eval()
    x = torch.randn(1, 10, 2)
    y = block(x, None)
    x2 = x.clone()
    x2[0, 6] += 1.0
    y2 = block(x2, None)
    changed = (y2 - y).abs().sum(-1)[0] > 0
    assert changed.nonzero().flatten().tolist() == [5, 6, 7, 8, 9]


def test_fsmn_masks_padding_and_skips_first_residual() -> None:
    torch.manual_seed(0)
    enc = FsmnEncoder(3, 8, 4, 5, 2).eval()
    x = torch.randn(1, 6, 3)
    pad = torch.tensor([[False, False, False, False, True, True]])
    y = enc(x, pad)
    assert y.shape == (1, 6, 4)
    assert torch.all(y[0, 4:] == 0)
    # padded inputs do not influence valid outputs
    x2 = x.clone()
    x2[0, 4:] = 100.0
    torch.testing.assert_close(enc(x2, pad), y)
