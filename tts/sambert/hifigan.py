"""Causal HiFi-GAN v1 generator (KAN-TTS ``Generator`` layout) for SAM-BERT mels.

Per upsampling stage the signal gets ``x + sin(x)``, then the sum of a nearest-neighbour
repeat branch and a causal transposed-conv branch, then the mean of multi-receptive-field
residual blocks (Kong et al., 2020, HiFi-GAN). All convolutions are causal (left padding).
Checkpoints store weight-normed tensors (``weight_g``/``weight_v``); they are folded into
plain weights on load (``w = g * v / ||v||``), which is what inference uses.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from tingshuo.tts.sambert.dims import HifiganDims


class CausalConv1d(nn.Module):
    """Conv1d with ``(kernel - 1) * dilation`` zeros on the left only (key prefix ``conv1d``).

    Implemented as a conv padded on both sides whose last ``pad`` outputs are dropped:
    the same numbers, without copying the input into a padded buffer.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1d = nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=self.pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1d(x)
        return y[..., : y.shape[-1] - self.pad] if self.pad else y


class CausalConvTranspose1d(nn.Module):
    """Transposed conv whose trailing ``kernel - stride`` outputs are dropped (``T -> T*stride``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int):
        super().__init__()
        self.trim = kernel - stride
        self.deconv = nn.ConvTranspose1d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.deconv(x)
        return y[..., : y.shape[-1] - self.trim] if self.trim else y


class ResBlock(nn.Module):
    """Dilated causal residual block: per dilation, lrelu-conv(d)-lrelu-conv(1) added to x."""

    def __init__(self, channels: int, kernel: int, dilations: tuple[int, ...], slope: float):
        super().__init__()
        self.slope = slope
        self.convs1 = nn.ModuleList(CausalConv1d(channels, channels, kernel, d) for d in dilations)
        self.convs2 = nn.ModuleList(CausalConv1d(channels, channels, kernel, 1) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = c2(F.leaky_relu_(c1(F.leaky_relu(x, self.slope)), self.slope))
            x = xt.add_(x)
        return x


class HifiganGenerator(nn.Module):
    """Mel ``[B, num_mels, T]`` -> waveform ``[B, 1, T * hop]`` in (-1, 1)."""

    def __init__(self, dims: HifiganDims):
        super().__init__()
        self.dims = dims
        slope = dims.negative_slope
        self.n_kernels = len(dims.resblock_kernel_sizes)
        widths = [dims.channels // (2**i) for i in range(len(dims.upsample_scales) + 1)]
        # registration order follows the checkpoints' key order
        self.transpose_upsamples = nn.ModuleList(
            nn.Sequential(
                nn.LeakyReLU(slope), CausalConvTranspose1d(widths[i], widths[i + 1], k, s)
            )
            for i, (s, k) in enumerate(
                zip(dims.upsample_scales, dims.upsample_kernal_sizes, strict=True)
            )
        )
        self.repeat_upsamples = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=s, mode="nearest"),
                nn.LeakyReLU(slope),
                CausalConv1d(widths[i], widths[i + 1], dims.kernel_size),
            )
            for i, s in enumerate(dims.upsample_scales)
        )
        self.conv_blocks = nn.ModuleList(
            ResBlock(widths[i + 1], k, d, slope)
            for i in range(len(dims.upsample_scales))
            for k, d in zip(dims.resblock_kernel_sizes, dims.resblock_dilations, strict=True)
        )
        self.conv_pre = CausalConv1d(dims.in_channels, dims.channels, dims.kernel_size)
        self.conv_post = CausalConv1d(widths[-1], dims.out_channels, dims.kernel_size)

    @torch.no_grad()
    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for i, (rep, up) in enumerate(
            zip(self.repeat_upsamples, self.transpose_upsamples, strict=True)
        ):
            x = torch.sin(x) + x
            r = rep(x)
            x = r + up(x)[..., : r.shape[-1]]
            blocks = self.conv_blocks[i * self.n_kernels : (i + 1) * self.n_kernels]
            x = sum(block(x) for block in blocks) / self.n_kernels
        x = F.leaky_relu(x)  # default slope 0.01 here, as in the reference
        return torch.tanh(self.conv_post(x))


def fold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace each ``X.weight_g``/``X.weight_v`` pair by ``X.weight = g * v / ||v||``.

    The norm runs over every dim except 0 (for a transposed conv, dim 0 is in_channels).
    Keys already in plain form pass through unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight_g"):
            continue
        if key.endswith(".weight_v"):
            base = key[: -len("_v")]
            g = state.get(base + "_g")
            if g is None:
                raise KeyError(f"{key!r} has no matching {base + '_g'!r}")
            v = value.to(torch.float32)
            norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
            out[base] = g.to(torch.float32) * v / norm
        else:
            out[key] = value
    return out


def unfold_weight_norm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`fold_weight_norm`: each conv ``X.weight`` -> ``X.weight_g``/``X.weight_v``.

    ``g = ||w||`` (over every dim except 0) and ``v = w``; per module the order is
    ``bias, weight_g, weight_v`` as in the KAN-TTS checkpoints.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(".weight") and value.dim() >= 2:
            base = key[: -len(".weight")]
            bias = state.get(base + ".bias")
            if bias is not None:
                out[base + ".bias"] = bias
            norm = value.flatten(1).norm(dim=1).view(-1, *([1] * (value.dim() - 1)))
            out[key + "_g"] = norm.clone()
            out[key + "_v"] = value.clone()
        elif key not in out:
            out[key] = value
    return out
