"""SAM-BERT post-net: FSMN + LSTM residual refinement of the decoder mel."""

from __future__ import annotations

import torch
from torch import nn

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.layers import FsmnEncoder


class PostNet(nn.Module):
    """``mel + fc(LSTM(FSMN(mel)))``, zeroed on padded frames."""

    def __init__(self, dims: SambertDims):
        super().__init__()
        self.fsmn = FsmnEncoder(
            dims.num_mels,
            dims.postnet_ffn_inner_dim,
            dims.postnet_num_memory_units,
            dims.postnet_filter_size,
            dims.postnet_fsmn_num_layers,
            dims.postnet_shift,
            dims.postnet_dropout,
        )
        self.lstm = nn.LSTM(
            dims.postnet_num_memory_units, dims.postnet_lstm_units, batch_first=True
        )
        self.fc = nn.Linear(dims.postnet_lstm_units, dims.num_mels)

    def forward(self, mel: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        """``mel`` [B, T, num_mels]; ``pad`` [B, T] True on padding frames."""
        h, _ = self.lstm(self.fsmn(mel, pad))
        out = self.fc(h) + mel
        return out if pad is None else out.masked_fill(pad[..., None], 0.0)
