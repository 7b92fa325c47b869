"""Building blocks shared by the SAM-BERT modules.

Parameter names follow the ModelScope/KAN-TTS checkpoint layout so that official
``state_dict`` files load strictly; the computations are written from the published
inference contract (FastSpeech-style pre-LN transformer blocks, FSMN memory blocks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LN_EPS = 1e-6  # every LayerNorm of the acoustic model


def sinusoid_token_table(n_positions: int, dim: int) -> torch.Tensor:
    """Token position table ``[1, n_positions, dim]`` (positions 1-based, sin half | cos half).

    angle(p, j) = p / 10000 ** (j / (dim/2 - 1)) for j < dim/2; dims [0, dim/2) hold the
    sine and [dim/2, dim) the cosine.
    """
    half = dim // 2
    pos = torch.arange(1, n_positions + 1, dtype=torch.float64)[:, None]
    expo = torch.arange(half, dtype=torch.float64)[None, :] / (half - 1)
    angle = pos / torch.pow(10000.0, expo)
    table = torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)
    return table.to(torch.float32)[None]


def duration_timescales(dim: int) -> torch.Tensor:
    """Divisors of the in-token frame position encoding: ``10000 ** (2 * (c // 2) / dim)``."""
    c = torch.arange(dim, dtype=torch.float64)
    return torch.pow(10000.0, 2.0 * torch.div(c, 2, rounding_mode="floor") / dim).to(torch.float32)


def duration_position_encoding(positions: torch.Tensor, timescales: torch.Tensor) -> torch.Tensor:
    """Interleaved sin (even channels) / cos (odd channels) of ``positions[..., None] / timescales``."""
    angle = positions.to(timescales.dtype)[..., None] / timescales
    out = torch.empty_like(angle)
    out[..., 0::2] = torch.sin(angle[..., 0::2])
    out[..., 1::2] = torch.cos(angle[..., 1::2])
    return out


class Prenet(nn.Module):
    """Linear+ReLU(+dropout) stack, optionally followed by a plain output Linear.

    The ReLU and dropout sit in the same ``fcs`` list as the linears, so the linear layers
    are ``fcs.0``, ``fcs.3``, ``fcs.6`` as in the checkpoints.
    """

    def __init__(self, in_units: int, units: list[int], out_units: int = 0, dropout: float = 0.5):
        super().__init__()
        layers: list[nn.Module] = []
        for d_in, d_out in zip([in_units, *units[:-1]], units, strict=True):
            layers += [nn.Linear(d_in, d_out), nn.ReLU(), nn.Dropout(dropout)]
        if out_units:
            layers.append(nn.Linear(units[-1], out_units))
        self.fcs = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.fcs:
            x = layer(x)
        return x


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``[B, L, H*D] -> [B, H, L, D]``."""
    b, length, units = x.shape
    return x.view(b, length, n_heads, units // n_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``[B, H, L, D] -> [B, L, H*D]``."""
    b, h, length, d = x.shape
    return x.transpose(1, 2).reshape(b, length, h * d)


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Scaled dot-product attention; ``mask`` is True where a key must be ignored."""
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


class SelfAttention(nn.Module):
    """Pre-LN multi-head self-attention with a fused q|k|v projection."""

    def __init__(self, n_heads: int, in_dim: int, units: int, dropout: float = 0.1):
        super().__init__()
        self.n_heads = n_heads
        self.units = units
        self.layer_norm = nn.LayerNorm(in_dim, eps=LN_EPS)
        self.w_qkv = nn.Linear(in_dim, 3 * units)
        self.fc = nn.Linear(units, units)
        self.dropout = nn.Dropout(dropout)
        self.residual = in_dim == units

    def forward(self, x: torch.Tensor, key_pad: torch.Tensor | None) -> torch.Tensor:
        """``x`` [B, L, in_dim]; ``key_pad`` [B, L] True at padding."""
        q, k, v = self.w_qkv(self.layer_norm(x)).chunk(3, dim=-1)
        q, k, v = (split_heads(t, self.n_heads) for t in (q, k, v))
        mask = None if key_pad is None else key_pad[:, None, None, :]
        out = self.dropout(self.fc(merge_heads(attend(q, k, v, mask))))
        return out + x if self.residual else out


class ConvFFN(nn.Module):
    """Pre-LN position-wise FFN of two 1-D convolutions with a residual."""

    def __init__(self, units: int, inner: int, kernel: int = 1, dropout: float = 0.1):
        super().__init__()
        self.w_1 = nn.Conv1d(units, inner, kernel, padding=(kernel - 1) // 2)
        self.w_2 = nn.Conv1d(inner, units, 1)
        self.layer_norm = nn.LayerNorm(units, eps=LN_EPS)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.w_1(self.layer_norm(x).transpose(1, 2)))
        if pad is not None:
            h = h.masked_fill(pad[:, None, :], 0.0)
        h = self.dropout(self.w_2(h).transpose(1, 2))
        return h + x


class FsmnFFN(nn.Module):
    """FSMN feed-forward part: 1x1 conv + ReLU, then a bias-free 1x1 projection."""

    def __init__(self, in_dim: int, inner: int, out_dim: int, dropout: float = 0.1):
        super().__init__()
        self.w_1 = nn.Conv1d(in_dim, inner, 1)
        self.w_2 = nn.Conv1d(inner, out_dim, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(F.relu(self.w_1(x.transpose(1, 2))))
        return self.w_2(h).transpose(1, 2)


class MemoryBlock(nn.Module):
    """FSMN memory: depthwise conv over time (look-back ``filter//2 + shift``) plus identity."""

    def __init__(self, units: int, filter_size: int, shift: int, dropout: float = 0.1):
        super().__init__()
        half = (filter_size - 1) // 2
        self.left, self.right = half + shift, half - shift
        self.conv_dw = nn.Conv1d(units, units, filter_size, groups=units, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        if pad is not None:
            x = x.masked_fill(pad[..., None], 0.0)
        h = self.conv_dw(F.pad(x.transpose(1, 2), (self.left, self.right))).transpose(1, 2)
        h = self.dropout(h + x)
        if pad is not None:
            h = h.masked_fill(pad[..., None], 0.0)
        return h


class FsmnEncoder(nn.Module):
    """Stack of FSMN layers (FFN then memory block; residual when widths match)."""

    def __init__(
        self,
        in_dim: int,
        inner: int,
        units: int,
        filter_size: int,
        n_layers: int,
        shift: int = 0,
        dropout: float = 0.1,
    ):
        super().__init__()
        dims = [in_dim] + [units] * (n_layers - 1)
        self.ffn_lst = nn.ModuleList(FsmnFFN(d, inner, units, dropout) for d in dims)
        self.memory_block_lst = nn.ModuleList(
            MemoryBlock(units, filter_size, shift, dropout) for _ in range(n_layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        for ffn, memory in zip(self.ffn_lst, self.memory_block_lst, strict=True):
            h = self.dropout(memory(ffn(x), pad))
            x = h + x if h.shape[-1] == x.shape[-1] else h
        return x
