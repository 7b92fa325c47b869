"""The bridge network: text and speech encoders projected into one shared emotion space.

- text branch: frozen sentence embedding (512-d) and a learned bag of hashed character
  n-grams, projected to ``dims.shared``;
- speech branch: standardised prosodic features (:mod:`dialog.prosody`) through a small MLP
  to ``dims.shared``;
- seven learned emotion prototypes live in the same space; class logits are scaled
  cosines to them;
- training loss: symmetric InfoNCE between speech and text of the same utterance (CLIP,
  Radford et al. 2021) plus cross-entropy of both branches against the prototypes.
- calibration: one temperature per modality and one for the fused logits, fitted on a
  development split after training (Guo et al. 2017, *On Calibration of Modern Neural
  Networks*).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tingshuo.core.emotions import EMOTIONS
from tingshuo.dialog.prosody import PROSODY_DIM
from tingshuo.dialog.text_features import TEXT_EMBED_DIM

NUM_EMOTIONS = len(EMOTIONS)


@dataclass(frozen=True)
class BridgeDims:
    """Sizes of the bridge network."""

    text_embed: int = TEXT_EMBED_DIM  # frozen sentence-encoder output
    ngram_buckets: int = 8192  # hashed character n-gram vocabulary
    ngram_dim: int = 48
    ngram_tfidf: bool = True  # weight n-grams by idf (l2-normalised tf-idf bag), else mean
    prosody: int = PROSODY_DIM
    hidden: int = 128
    text_hidden: int = 128  # 0: the text branch is a linear projection
    shared: int = 64  # the shared embedding space
    dropout: float = 0.2
    cosine: bool = True  # class logits from cosine to the prototypes (else dot product)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


class TextEncoderHead(nn.Module):
    """Sentence embedding + n-gram bag → shared space."""

    idf: torch.Tensor  # buffer: per-bucket idf weights

    def __init__(self, dims: BridgeDims) -> None:
        super().__init__()
        self.tfidf = dims.ngram_tfidf
        self.ngrams = nn.EmbeddingBag(
            dims.ngram_buckets, dims.ngram_dim, mode="sum" if self.tfidf else "mean"
        )
        nn.init.normal_(self.ngrams.weight, std=0.05)
        self.register_buffer("idf", torch.ones(dims.ngram_buckets))  # set from training text
        width = dims.text_embed + dims.ngram_dim
        if dims.text_hidden:
            self.net = nn.Sequential(
                nn.Dropout(dims.dropout),
                nn.Linear(width, dims.text_hidden),
                nn.GELU(),
                nn.Dropout(dims.dropout),
                nn.Linear(dims.text_hidden, dims.shared),
            )
        else:
            self.net = nn.Sequential(nn.Dropout(dims.dropout), nn.Linear(width, dims.shared))

    def forward(
        self, embed: torch.Tensor, ngram_ids: torch.Tensor, offsets: torch.Tensor
    ) -> torch.Tensor:
        if self.tfidf:
            w = self.idf[ngram_ids]
            lengths = torch.diff(
                offsets, append=torch.tensor([len(ngram_ids)], device=offsets.device)
            )
            bag_of = torch.repeat_interleave(
                torch.arange(len(offsets), device=offsets.device), lengths
            )
            norm = torch.zeros(len(offsets), device=w.device).index_add_(0, bag_of, w * w).sqrt()
            bag = self.ngrams(
                ngram_ids, offsets, per_sample_weights=w / norm.clamp(min=1e-6)[bag_of]
            )
        else:
            bag = self.ngrams(ngram_ids, offsets)
        return self.net(torch.cat([embed, bag], dim=-1))


class SpeechEncoderHead(nn.Module):
    """Standardised prosodic features → shared space."""

    mean: torch.Tensor  # buffers: feature standardisation
    std: torch.Tensor

    def __init__(self, dims: BridgeDims) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dims.prosody))
        self.register_buffer("std", torch.ones(dims.prosody))
        self.net = nn.Sequential(
            nn.Linear(dims.prosody, dims.hidden),
            nn.GELU(),
            nn.Dropout(dims.dropout),
            nn.Linear(dims.hidden, dims.hidden),
            nn.GELU(),
            nn.Linear(dims.hidden, dims.shared),
        )

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = ((feats - self.mean) / self.std).clamp(-6.0, 6.0)
        return self.net(x)


class BridgeModel(nn.Module):
    """Both encoders, the emotion prototypes and the calibration temperatures."""

    temperature: torch.Tensor  # buffer: [text, speech, fused]

    def __init__(self, dims: BridgeDims | None = None) -> None:
        super().__init__()
        self.dims = dims or BridgeDims()
        self.text = TextEncoderHead(self.dims)
        self.speech = SpeechEncoderHead(self.dims)
        self.prototypes = nn.Parameter(torch.randn(NUM_EMOTIONS, self.dims.shared) * 0.1)
        self.class_scale = nn.Parameter(torch.tensor(10.0).log())  # log of cosine scale
        # per-modality class priors added to the prototype similarities [text, speech]
        self.class_bias = nn.Parameter(torch.zeros(2, NUM_EMOTIONS))
        self.pair_scale = nn.Parameter(torch.tensor(1 / 0.07).log())  # CLIP's initial 1/τ
        # temperatures [text, speech, fused] fitted after training; 1 = uncalibrated
        self.register_buffer("temperature", torch.ones(3))

    def embed_text(
        self, embed: torch.Tensor, ngram_ids: torch.Tensor, offsets: torch.Tensor
    ) -> torch.Tensor:
        """Text in the shared space (unnormalised; :meth:`class_logits` and
        :meth:`pair_logits` normalise as they need)."""
        return self.text(embed, ngram_ids, offsets)

    def embed_speech(self, feats: torch.Tensor) -> torch.Tensor:
        """Speech in the shared space (unnormalised)."""
        return self.speech(feats)

    def class_logits(self, z: torch.Tensor, modality: int = 0) -> torch.Tensor:
        """Similarity of shared-space vectors to each emotion prototype (scaled cosine, or the dot
        product of the unnormalised vectors), plus the modality's class prior (0 text, 1 speech)."""
        if not self.dims.cosine:
            return z @ self.prototypes.T + self.class_bias[modality]
        protos = F.normalize(self.prototypes, dim=-1)
        z = F.normalize(z, dim=-1)
        return self.class_scale.exp().clamp(max=100.0) * z @ protos.T + self.class_bias[modality]

    def pair_logits(self, z_speech: torch.Tensor, z_text: torch.Tensor) -> torch.Tensor:
        """Speech×text cosine-similarity matrix (scaled) for the contrastive loss and retrieval."""
        zs, zt = F.normalize(z_speech, dim=-1), F.normalize(z_text, dim=-1)
        return self.pair_scale.exp().clamp(max=100.0) * zs @ zt.T

    def forward(
        self,
        text: dict[str, torch.Tensor],
        pairs: dict[str, torch.Tensor] | None,
        class_weight: torch.Tensor | None = None,
        contrastive_weight: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """Training losses for a text-only batch and (optionally) a paired speech+text batch."""
        z_t = self.embed_text(text["embed"], text["ngrams"], text["offsets"])
        loss_text = F.cross_entropy(self.class_logits(z_t, 0), text["label"], weight=class_weight)
        out = {"text_ce": loss_text}
        total = loss_text
        if pairs is not None and len(pairs["label"]) > 1:
            zs = self.embed_speech(pairs["prosody"])
            zp = self.embed_text(pairs["embed"], pairs["ngrams"], pairs["offsets"])
            loss_speech = F.cross_entropy(
                self.class_logits(zs, 1), pairs["label"], weight=class_weight
            )
            loss_pair_text = F.cross_entropy(
                self.class_logits(zp, 0), pairs["label"], weight=class_weight
            )
            logits = self.pair_logits(zs, zp)
            target = torch.arange(len(zs), device=zs.device)
            contrastive = 0.5 * (
                F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)
            )
            out.update(speech_ce=loss_speech, contrastive=contrastive)
            total = total + loss_speech + 0.5 * loss_pair_text + contrastive_weight * contrastive
        out["loss"] = total
        return out
