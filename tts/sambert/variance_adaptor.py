"""SAM-BERT variance adaptor: pitch/energy predictors, AR duration predictor, length regulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.layers import (
    FsmnEncoder,
    Prenet,
    duration_position_encoding,
    duration_timescales,
)


class FsmnRnnPredictor(nn.Module):
    """Phone-level scalar predictor: FSMN encoder -> BLSTM -> Linear (pitch or energy)."""

    def __init__(self, in_dim: int, dims: SambertDims):
        super().__init__()
        self.fsmn = FsmnEncoder(
            in_dim,
            dims.predictor_ffn_inner_dim,
            dims.predictor_num_memory_units,
            dims.predictor_filter_size,
            dims.predictor_fsmn_num_layers,
            dims.predictor_shift,
            dims.predictor_dropout,
        )
        self.blstm = nn.LSTM(
            dims.predictor_num_memory_units,
            dims.predictor_lstm_units,
            batch_first=True,
            bidirectional=True,
        )
        self.fc = nn.Linear(2 * dims.predictor_lstm_units, 1)

    def forward(
        self, x: torch.Tensor, pad: torch.Tensor | None, lengths: torch.Tensor
    ) -> torch.Tensor:
        """``x`` [B, N, in_dim] -> [B, N]."""
        h = self.fsmn(x, pad)
        packed = nn.utils.rnn.pack_padded_sequence(
            h, lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, _ = self.blstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        y = self.fc(out).squeeze(-1)
        return y if pad is None else y.masked_fill(pad, 0.0)


class DurationPredictor(nn.Module):
    """Autoregressive log-duration predictor: Prenet(previous) ++ condition -> 2-layer LSTM -> ReLU(fc)."""

    def __init__(self, cond_dim: int, dims: SambertDims):
        super().__init__()
        units = list(dims.dur_pred_prenet_units)
        self.prenet = Prenet(1, units, dropout=dims.predictor_dropout)
        self.lstm = nn.LSTM(
            units[-1] + cond_dim, dims.dur_pred_lstm_units, num_layers=2, batch_first=True
        )
        self.fc = nn.Linear(dims.dur_pred_lstm_units, 1)

    def infer(self, cond: torch.Tensor) -> torch.Tensor:
        """``cond`` [B, N, C] -> log(1 + d) [B, N], each step fed the previous output."""
        b, n, _ = cond.shape
        prev = cond.new_zeros(b, 1, 1)
        state: tuple[torch.Tensor, torch.Tensor] | None = None
        outs = []
        for i in range(n):
            step_in = torch.cat([self.prenet(prev), cond[:, i : i + 1]], dim=-1)
            h, state = self.lstm(step_in, state)
            prev = F.relu(self.fc(h))
            outs.append(prev)
        return torch.cat(outs, dim=1).squeeze(-1)


class DurationPositionEncoder(nn.Module):
    """In-token frame position encoding; the timescales are computed, or taken from a checkpoint."""

    inv_timescales: torch.Tensor

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("inv_timescales", duration_timescales(dim), persistent=False)
        self._register_load_state_dict_pre_hook(self._take_stored)

    def _take_stored(self, state: dict[str, Any], prefix: str, *args: Any) -> None:
        stored = state.pop(prefix + "inv_timescales", None)
        if stored is not None and stored.shape == self.inv_timescales.shape:
            self.inv_timescales = stored.detach().to(torch.float32).clone()

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return duration_position_encoding(positions, self.inv_timescales)


@dataclass
class AdaptorOutput:
    """What the variance adaptor hands to the decoder (B = 1 rows padded to a multiple of r)."""

    lr_text: torch.Tensor  # [B, T_pad, 32] text states repeated per frame + duration PE
    lr_spk: torch.Tensor  # [B, T_pad, 32]
    lr_emo: torch.Tensor  # [B, T_pad, 32]
    valid_lengths: torch.Tensor  # [B] int64, frames before padding
    log_durations: torch.Tensor  # [B, N]
    pitch: torch.Tensor  # [B, N]
    energy: torch.Tensor  # [B, N]
    band_width: int  # PNCA attention band (in decoder steps)


def regulate_length(
    x: torch.Tensor, reps: torch.Tensor, total: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Repeat ``x[b, i]`` ``reps[b, i]`` times, zero-pad to ``total`` frames.

    Returns the frames [B, total, C] and the 1-based in-token position of each frame
    (0 on padding) [B, total].
    """
    b, _, c = x.shape
    out = x.new_zeros(b, total, c)
    pos = torch.zeros(b, total, dtype=torch.float32, device=x.device)
    for i in range(b):
        r = reps[i]
        n_frames = int(r.sum())
        out[i, :n_frames] = torch.repeat_interleave(x[i], r, dim=0)
        starts = torch.cumsum(r, 0) - r
        pos[i, :n_frames] = (
            torch.arange(n_frames, device=x.device) - torch.repeat_interleave(starts, r) + 1
        ).float()
    return out, pos


class VarianceAdaptor(nn.Module):
    """Pitch, energy and duration prediction, then length regulation to frame rate."""

    def __init__(self, dims: SambertDims):
        super().__init__()
        in_dim = dims.encoder_projection_units + dims.speaker_units + dims.emotion_units
        self.r = dims.outputs_per_step
        self.pitch_predictor = FsmnRnnPredictor(in_dim, dims)
        self.energy_predictor = FsmnRnnPredictor(in_dim, dims)
        self.duration_predictor = DurationPredictor(in_dim, dims)
        self.dur_position_encoder = DurationPositionEncoder(dims.encoder_projection_units)
        units = dims.encoder_projection_units
        self.pitch_emb = nn.Conv1d(1, units, 9, padding=4)
        self.energy_emb = nn.Conv1d(1, units, 9, padding=4)

    def forward(
        self,
        text: torch.Tensor,
        spk: torch.Tensor,
        emo: torch.Tensor,
        lengths: torch.Tensor,
        pad: torch.Tensor | None,
        duration_scale: float = 1.0,
    ) -> AdaptorOutput:
        """``text``/``spk``/``emo`` [B, N, 32] token states -> frame-rate states.

        ``duration_scale`` multiplies every predicted duration before rounding (1 = as trained).
        """
        vp_in = torch.cat([text, spk, emo], dim=-1)
        pitch = self.pitch_predictor(vp_in, pad, lengths)
        energy = self.energy_predictor(vp_in, pad, lengths)
        text_aug = (
            text
            + self.pitch_emb(pitch[:, None]).transpose(1, 2)
            + self.energy_emb(energy[:, None]).transpose(1, 2)
        )
        log_dur = self.duration_predictor.infer(torch.cat([text_aug, spk, emo], dim=-1))
        if pad is not None:
            log_dur = log_dur.masked_fill(pad, 0.0)
        dur = (torch.exp(log_dur) - 1.0) * duration_scale
        reps = (dur + 0.5).long().clamp_min(0)
        valid = reps.sum(dim=1)
        total = int(valid.max())
        total = max(self.r, -(-total // self.r) * self.r)
        band = int(float(dur.detach().max()) / self.r + 0.5)
        lr_text, pos = regulate_length(text_aug, reps, total)
        lr_spk, _ = regulate_length(spk, reps, total)
        lr_emo, _ = regulate_length(emo, reps, total)
        lr_text = lr_text + self.dur_position_encoder(pos)
        return AdaptorOutput(lr_text, lr_spk, lr_emo, valid, log_dur, pitch, energy, band)
