"""SAM-BERT mel decoder: autoregressive band-limited PNCA (parallel non-causal attention) stack.

Each decoder step attends to its own recent past (``x`` attention, steps t-bw..t) and to
the upcoming window of the length-regulated encoder memory (``h`` attention, steps t..t+bw),
emitting ``outputs_per_step`` mel frames at once.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.layers import LN_EPS, ConvFFN, Prenet, merge_heads, split_heads


class PncaAttention(nn.Module):
    """Two attentions sharing one query: over decoder states (x) and over memory (h)."""

    def __init__(self, n_heads: int, units: int, memory_dim: int):
        super().__init__()
        self.n_heads = n_heads
        self.layer_norm = nn.LayerNorm(units, eps=LN_EPS)
        self.w_x_qkv = nn.Linear(units, 3 * units)
        self.fc_x = nn.Linear(units, units)
        self.w_h_kv = nn.Linear(memory_dim, 2 * units)
        self.fc_h = nn.Linear(units, units)

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys/values of the whole memory [B, S, M] -> 2 x [B, H, S, D] (no LayerNorm)."""
        k, v = self.w_h_kv(memory).chunk(2, dim=-1)
        return split_heads(k, self.n_heads), split_heads(v, self.n_heads)

    def step(
        self,
        z: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor],
        mem_kv: tuple[torch.Tensor, torch.Tensor],
        t: int,
        band: int,
    ) -> torch.Tensor:
        """One decoder step ``z`` [B, 1, U]; ``cache`` [B, H, S, D] x2 receives this step's k/v.

        Written with functional calls on the module weights: this runs S x layers times
        per utterance, where module-call overhead dominates.
        """
        ln = self.layer_norm
        zn = F.layer_norm(z, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
        q, k, v = F.linear(zn, self.w_x_qkv.weight, self.w_x_qkv.bias).chunk(3, dim=-1)
        q, k, v = (split_heads(x, self.n_heads) for x in (q, k, v))
        cache[0][:, :, t : t + 1] = k
        cache[1][:, :, t : t + 1] = v
        lo = max(0, t - band)
        att_x = F.scaled_dot_product_attention(
            q, cache[0][:, :, lo : t + 1], cache[1][:, :, lo : t + 1]
        )
        hk, hv = mem_kv
        att_h = F.scaled_dot_product_attention(
            q, hk[:, :, t : t + band + 1], hv[:, :, t : t + band + 1]
        )
        out = F.linear(merge_heads(att_x), self.fc_x.weight, self.fc_x.bias) + F.linear(
            merge_heads(att_h), self.fc_h.weight, self.fc_h.bias
        )
        return out + z


class PncaBlock(nn.Module):
    """PNCA attention followed by a pre-LN 1x1-conv FFN."""

    def __init__(self, dims: SambertDims, memory_dim: int):
        super().__init__()
        self.pnca_attn = PncaAttention(dims.decoder_num_heads, dims.decoder_num_units, memory_dim)
        self.pos_ffn = ConvFFN(
            dims.decoder_num_units,
            dims.decoder_ffn_inner_dim,
            kernel=1,
            dropout=dims.decoder_relu_dropout,
        )

    def step_ffn(self, x: torch.Tensor) -> torch.Tensor:
        """The 1x1-conv FFN of one step as two linears (same weights, no conv overhead)."""
        ffn = self.pos_ffn
        ln = ffn.layer_norm
        h = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
        h = F.relu(F.linear(h, ffn.w_1.weight.squeeze(-1), ffn.w_1.bias))
        return F.linear(h, ffn.w_2.weight.squeeze(-1), ffn.w_2.bias) + x


class PncaDecoder(nn.Module):
    """Prenet -> input projection -> PNCA blocks -> LayerNorm -> r-frame output projection."""

    def __init__(self, dims: SambertDims, memory_dim: int):
        super().__init__()
        units = dims.decoder_num_units
        self.r, self.num_mels = dims.outputs_per_step, dims.num_mels
        self.prenet = Prenet(dims.num_mels, list(dims.decoder_prenet_units), units)
        self.dec_in_proj = nn.Linear(memory_dim + units, units)
        self.pnca = nn.ModuleList(
            PncaBlock(dims, memory_dim) for _ in range(dims.decoder_num_layers)
        )
        self.ln = nn.LayerNorm(units, eps=LN_EPS)
        self.dec_out_proj = nn.Linear(units, dims.num_mels * dims.outputs_per_step)
        self.scale = math.sqrt(units)
        self.dropout = nn.Dropout(dims.decoder_dropout)

    def infer(self, memory: torch.Tensor, band: int) -> torch.Tensor:
        """``memory`` [B, S, M] -> mel frames [B, S * r, num_mels], one step per memory row."""
        b, steps, _ = memory.shape
        blocks = cast(list[PncaBlock], list(self.pnca))
        mem_kv = [block.pnca_attn.memory_kv(memory) for block in blocks]
        caches = [(torch.zeros_like(k), torch.zeros_like(v)) for k, v in mem_kv]
        prev = memory.new_zeros(b, 1, self.num_mels)
        outs = []
        for t in range(steps):
            z = self.dec_in_proj(torch.cat([memory[:, t : t + 1], self.prenet(prev)], dim=-1))
            z = self.dropout(z * self.scale)
            for block, cache, kv in zip(blocks, caches, mem_kv, strict=True):
                z = block.step_ffn(block.pnca_attn.step(z, cache, kv, t, band))
            frames = self.dec_out_proj(self.ln(z))
            outs.append(frames)
            prev = frames[..., -self.num_mels :]
        return torch.cat(outs, dim=1).reshape(b, steps * self.r, self.num_mels)


class MelDecoder(nn.Module):
    """Holder matching the checkpoint prefix ``mel_decoder.mel_dec``."""

    def __init__(self, dims: SambertDims, memory_dim: int):
        super().__init__()
        self.mel_dec = PncaDecoder(dims, memory_dim)
