"""The SAM-BERT acoustic model (KAN-TTS ``KanTtsSAMBERT`` layout): tokens -> normalised mel."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tingshuo.tts.sambert.decoder import MelDecoder
from tingshuo.tts.sambert.dims import SambertDims
from tingshuo.tts.sambert.postnet import PostNet
from tingshuo.tts.sambert.text_encoder import TextEncoder
from tingshuo.tts.sambert.variance_adaptor import AdaptorOutput, VarianceAdaptor


class _ConvNorm(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=(kernel - 1) // 2)


class AlignAttention(nn.Module):
    """Parameters of the MAS variant's training-only alignment attention (unused at inference).

    Present only so that ``sambert_16k_MAS`` checkpoints load strictly.
    """

    def __init__(self, text_dim: int, num_mels: int):
        super().__init__()
        self.key_proj = nn.Sequential(
            _ConvNorm(text_dim, 2 * text_dim, 3), nn.ReLU(), _ConvNorm(2 * text_dim, num_mels, 1)
        )
        self.query_proj = nn.Sequential(
            _ConvNorm(num_mels, 2 * num_mels, 3),
            nn.ReLU(),
            _ConvNorm(2 * num_mels, num_mels, 1),
            nn.ReLU(),
            _ConvNorm(num_mels, num_mels, 1),
        )
        self.attn_proj = nn.Conv2d(num_mels, 1, 1)


@dataclass
class AcousticOutput:
    """Everything one forward pass produces (names follow the KAN-TTS output dict)."""

    postnet_outputs: torch.Tensor  # [B, T_pad, num_mels] final mel, zero beyond valid length
    dec_outputs: torch.Tensor  # [B, T_pad, num_mels] decoder mel before the post-net
    valid_lengths: torch.Tensor  # [B] frames of real mel (``LR_length_rounded``)
    adaptor: AdaptorOutput

    def mel(self, index: int = 0) -> torch.Tensor:
        """The valid mel frames of one utterance, [T_valid, num_mels]."""
        return self.postnet_outputs[index, : int(self.valid_lengths[index])]


def _pad_mask(lengths: torch.Tensor, total: int) -> torch.Tensor:
    return torch.arange(total, device=lengths.device)[None, :] >= lengths[:, None]


class SambertModel(nn.Module):
    """Text encoder, speaker/emotion tables, variance adaptor, PNCA decoder and post-net."""

    def __init__(self, dims: SambertDims):
        super().__init__()
        self.dims = dims
        self.text_encoder = TextEncoder(dims)
        self.spk_tokenizer = nn.Embedding(dims.tables.speaker, dims.speaker_units)
        self.emo_tokenizer = nn.Embedding(dims.tables.emotion, dims.emotion_units)
        self.variance_adaptor = VarianceAdaptor(dims)
        r = dims.outputs_per_step
        memory_dim = r * dims.encoder_projection_units + dims.speaker_units + dims.emotion_units
        self.mel_decoder = MelDecoder(dims, memory_dim)
        self.mel_postnet = PostNet(dims)
        if dims.MAS:
            self.align_attention = AlignAttention(dims.embedding_dim, dims.num_mels)

    @torch.no_grad()
    def forward(
        self,
        inputs_ling: torch.Tensor,
        inputs_emotion: torch.Tensor,
        inputs_speaker: torch.Tensor,
        input_lengths: torch.Tensor,
        duration_scale: float = 1.0,
        emotion_weight: float = 1.0,
        neutral_emotion: int = 1,
    ) -> AcousticOutput:
        """Inference pass.

        ``inputs_ling`` [B, N, 4] long (sy, tone, syllable_flag, word_segment indices, no eos),
        ``inputs_emotion`` / ``inputs_speaker`` [B, N] long, ``input_lengths`` [B].
        ``duration_scale`` multiplies the predicted durations (1/rate); ``emotion_weight``
        moves the emotion embedding from the ``neutral_emotion`` row (0) to the given rows
        (1, the trained point) or beyond (up to 2).
        """
        n = inputs_ling.shape[1]
        pad = _pad_mask(input_lengths, n)
        text = self.text_encoder(inputs_ling, pad)
        emo = self.emo_tokenizer(inputs_emotion)
        if emotion_weight != 1.0:
            neutral = self.emo_tokenizer.weight[neutral_emotion]
            emo = neutral + emotion_weight * (emo - neutral)
        spk = self.spk_tokenizer(inputs_speaker)
        ad = self.variance_adaptor(text, spk, emo, input_lengths, pad, duration_scale)

        b, total, _ = ad.lr_text.shape
        steps = total // self.dims.outputs_per_step
        memory = torch.cat(
            [
                ad.lr_text.reshape(b, steps, -1),
                ad.lr_spk.reshape(b, steps, -1)[..., : self.dims.speaker_units],
                ad.lr_emo.reshape(b, steps, -1)[..., : self.dims.emotion_units],
            ],
            dim=-1,
        )
        frame_pad = _pad_mask(ad.valid_lengths, total)
        dec = self.mel_decoder.mel_dec.infer(memory, ad.band_width)
        dec = dec.masked_fill(frame_pad[..., None], 0.0)
        post = self.mel_postnet(dec, frame_pad)
        return AcousticOutput(post, dec, ad.valid_lengths, ad)
