"""SAM-BERT text encoder: linguistic embeddings -> pre-LN transformer -> 32-d text states."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.layers import LN_EPS, ConvFFN, SelfAttention, sinusoid_token_table


class TokenPositionTable(nn.Module):
    """Sinusoid token positions, computed (non-persistent), grown on demand past ``max_len``.

    KAN-TTS stores this table as a frozen Parameter; the official checkpoints usually lack
    it. A checkpoint that does carry it (``position_enc``) has it copied in on load.
    """

    position_enc: torch.Tensor

    def __init__(self, max_len: int, dim: int):
        super().__init__()
        self.dim = dim
        self.register_buffer("position_enc", sinusoid_token_table(max_len, dim), persistent=False)
        self._register_load_state_dict_pre_hook(self._take_stored_table)

    def _take_stored_table(self, state: dict[str, Any], prefix: str, *args: Any) -> None:
        stored = state.pop(prefix + "position_enc", None)
        if stored is not None and stored.shape[-1] == self.dim:
            self.position_enc = stored.detach().to(torch.float32).clone()

    def forward(self, length: int) -> torch.Tensor:
        """``[1, length, dim]``."""
        if length > self.position_enc.shape[1]:
            self.position_enc = sinusoid_token_table(length, self.dim).to(self.position_enc.device)
        return self.position_enc[:, :length]


class FFTBlock(nn.Module):
    """Self-attention + conv FFN, zeroing padded positions after each."""

    def __init__(self, in_dim: int, dims: SambertDims):
        super().__init__()
        self.slf_attn = SelfAttention(
            dims.encoder_num_heads, in_dim, dims.encoder_num_units, dims.encoder_attention_dropout
        )
        self.pos_ffn = ConvFFN(
            dims.encoder_num_units,
            dims.encoder_ffn_inner_dim,
            kernel=3,
            dropout=dims.encoder_relu_dropout,
        )

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        x = self.slf_attn(x, pad)
        if pad is not None:
            x = x.masked_fill(pad[..., None], 0.0)
        x = self.pos_ffn(x, pad)
        if pad is not None:
            x = x.masked_fill(pad[..., None], 0.0)
        return x


class LingEncoder(nn.Module):
    """Position-encoded transformer stack over the summed linguistic embeddings."""

    def __init__(self, dims: SambertDims):
        super().__init__()
        in_dims = [dims.embedding_dim] + [dims.encoder_num_units] * (dims.encoder_num_layers - 1)
        self.fft = nn.ModuleList(FFTBlock(d, dims) for d in in_dims)
        self.ln = nn.LayerNorm(dims.encoder_num_units, eps=LN_EPS)
        self.position_enc = TokenPositionTable(dims.max_len, dims.embedding_dim)
        self.scale = math.sqrt(dims.encoder_num_units)
        self.dropout = nn.Dropout(dims.encoder_dropout)

    def forward(self, emb: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        x = emb * self.scale + self.position_enc(emb.shape[1])
        x = self.dropout(x)
        for block in self.fft:
            x = block(x, pad)
        return self.ln(x)


class TextEncoder(nn.Module):
    """Sum of sy/tone/syllable-flag/word-segment embeddings -> LingEncoder -> ``ling_proj``."""

    def __init__(self, dims: SambertDims):
        super().__init__()
        t, d = dims.tables, dims.embedding_dim
        self.sy_emb = nn.Embedding(t.sy, d)
        self.tone_emb = nn.Embedding(t.tone, d)
        self.syllable_flag_emb = nn.Embedding(t.syllable_flag, d)
        self.ws_emb = nn.Embedding(t.word_segment, d)
        self.ling_enc = LingEncoder(dims)
        self.ling_proj = nn.Linear(
            dims.encoder_num_units, dims.encoder_projection_units, bias=False
        )

    def forward(self, inputs_ling: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """``inputs_ling`` [B, N, 4] (sy, tone, syllable_flag, word_segment) -> [B, N, 32]."""
        emb = (
            self.sy_emb(inputs_ling[..., 0])
            + self.tone_emb(inputs_ling[..., 1])
            + self.syllable_flag_emb(inputs_ling[..., 2])
            + self.ws_emb(inputs_ling[..., 3])
        )
        return self.ling_proj(self.ling_enc(emb, pad))
