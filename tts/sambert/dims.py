"""Model sizes of the SAM-BERT acoustic model and the HiFi-GAN generator.

Architecture widths come from the KAN-TTS config (``am/config.yaml``: Model.KanTtsSAMBERT.params,
``voc/config.yaml``: Model.Generator.params); embedding-table sizes come from the checkpoint's
tensor shapes, never from assumptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

# state_dict key -> table name, for the embedding tables whose row counts vary per voice
TABLE_KEYS: dict[str, str] = {
    "sy": "text_encoder.sy_emb.weight",
    "tone": "text_encoder.tone_emb.weight",
    "syllable_flag": "text_encoder.syllable_flag_emb.weight",
    "word_segment": "text_encoder.ws_emb.weight",
    "emotion": "emo_tokenizer.weight",
    "speaker": "spk_tokenizer.weight",
}


@dataclass(frozen=True)
class TableSizes:
    """Rows of each linguistic embedding table (KAN-TTS zh-cn default: 147/10/8/8/36/n+3)."""

    sy: int = 147
    tone: int = 10
    syllable_flag: int = 8
    word_segment: int = 8
    emotion: int = 36
    speaker: int = 4

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> TableSizes:
        """Read every table size from the embedding shapes; a missing table is a KeyError naming it."""
        sizes = {}
        for name, key in TABLE_KEYS.items():
            if key not in state:
                raise KeyError(f"checkpoint has no {key!r} (the {name} table)")
            sizes[name] = int(state[key].shape[0])
        return cls(**sizes)


@dataclass(frozen=True)
class SambertDims:
    """Hyper-parameters of KAN-TTS ``KanTtsSAMBERT`` (defaults: sambert_16k.yaml)."""

    max_len: int = 800
    embedding_dim: int = 512
    encoder_num_layers: int = 8
    encoder_num_heads: int = 8
    encoder_num_units: int = 128
    encoder_ffn_inner_dim: int = 1024
    encoder_dropout: float = 0.1
    encoder_attention_dropout: float = 0.1
    encoder_relu_dropout: float = 0.1
    encoder_projection_units: int = 32
    speaker_units: int = 32
    emotion_units: int = 32
    predictor_filter_size: int = 41
    predictor_fsmn_num_layers: int = 3
    predictor_num_memory_units: int = 128
    predictor_ffn_inner_dim: int = 256
    predictor_dropout: float = 0.1
    predictor_shift: int = 0
    predictor_lstm_units: int = 128
    dur_pred_prenet_units: tuple[int, ...] = (128, 128)
    dur_pred_lstm_units: int = 128
    decoder_prenet_units: tuple[int, ...] = (256, 256)
    decoder_num_layers: int = 12
    decoder_num_heads: int = 8
    decoder_num_units: int = 128
    decoder_ffn_inner_dim: int = 1024
    decoder_dropout: float = 0.1
    decoder_attention_dropout: float = 0.1
    decoder_relu_dropout: float = 0.1
    outputs_per_step: int = 3
    num_mels: int = 80
    postnet_filter_size: int = 41
    postnet_fsmn_num_layers: int = 4
    postnet_num_memory_units: int = 256
    postnet_ffn_inner_dim: int = 512
    postnet_dropout: float = 0.1
    postnet_shift: int = 17
    postnet_lstm_units: int = 128
    MAS: bool = False  # noqa: N815  (KAN-TTS config key; alignment module is training-only)
    tables: TableSizes = TableSizes()

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any], tables: TableSizes | None = None
    ) -> SambertDims:
        """Build from ``Model.KanTtsSAMBERT.params``; unknown keys are ignored, absent keys default.

        Raises ValueError for variants this implementation does not run (SE, NSF, FP).
        """
        for flag in ("SE", "NSF", "FP"):
            if params.get(flag):
                raise ValueError(f"SAM-BERT variant with {flag}: True is not supported")
        known = {f.name for f in fields(cls)} - {"tables"}
        kwargs: dict[str, Any] = {k: v for k, v in params.items() if k in known}
        for key in ("dur_pred_prenet_units", "decoder_prenet_units"):
            if key in kwargs:
                kwargs[key] = tuple(int(u) for u in kwargs[key])
        return cls(**kwargs, tables=tables or TableSizes())


@dataclass(frozen=True)
class HifiganDims:
    """Hyper-parameters of the KAN-TTS HiFi-GAN ``Generator`` (defaults: hifigan_v1_16k.yaml)."""

    in_channels: int = 80
    out_channels: int = 1
    channels: int = 256
    kernel_size: int = 7
    upsample_scales: tuple[int, ...] = (10, 5, 2, 2)
    upsample_kernal_sizes: tuple[int, ...] = (20, 10, 4, 4)  # sic: the config key's spelling
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilations: tuple[tuple[int, ...], ...] = ((1, 3, 5, 7),) * 3
    causal: bool = True
    negative_slope: float = 0.1

    @property
    def hop_length(self) -> int:
        """Samples per mel frame (product of the upsampling scales)."""
        hop = 1
        for s in self.upsample_scales:
            hop *= s
        return hop

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> HifiganDims:
        """Build from ``Model.Generator.params`` (NSF and non-causal variants are rejected)."""
        if params.get("nsf_params") or params.get("nsf_f0_global_minimum") is not None:
            raise ValueError("HiFi-GAN NSF variants are not supported")
        if not params.get("causal", True):
            raise ValueError("non-causal HiFi-GAN variants are not supported")
        act = params.get("nonlinear_activation_params") or {}
        return cls(
            in_channels=int(params.get("in_channels", 80)),
            out_channels=int(params.get("out_channels", 1)),
            channels=int(params.get("channels", 256)),
            kernel_size=int(params.get("kernel_size", 7)),
            upsample_scales=tuple(int(s) for s in params.get("upsample_scales", (10, 5, 2, 2))),
            upsample_kernal_sizes=tuple(
                int(s) for s in params.get("upsample_kernal_sizes", (20, 10, 4, 4))
            ),
            resblock_kernel_sizes=tuple(
                int(k) for k in params.get("resblock_kernel_sizes", (3, 7, 11))
            ),
            resblock_dilations=tuple(
                tuple(int(d) for d in ds)
                for ds in params.get("resblock_dilations", ((1, 3, 5, 7),) * 3)
            ),
            causal=True,
            negative_slope=float(act.get("negative_slope", 0.1)),
        )
