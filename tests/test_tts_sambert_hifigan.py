"""HiFi-GAN generator: checkpoint layouts (weight-norm and folded) and golden waveforms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from tests.sambert_helpers import read_listing, reference_dir
from tingshuo.tts.sambert.dims import HifiganDims
from tingshuo.tts.sambert.hifigan import HifiganGenerator, fold_weight_norm, unfold_weight_norm

torch.set_num_threads(2)


def _dims() -> HifiganDims:
    cfg = yaml.safe_load((reference_dir() / "configs" / "hifigan_v1_16k.yaml").read_text())
    return HifiganDims.from_params(cfg["Model"]["Generator"]["params"])


def _layout(state: dict) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in state.items()]


def test_folded_state_dict_matches_listing() -> None:
    listing = read_listing(
        reference_dir() / "hifigan_v1_16k_generator_state_dict_after_remove_weight_norm.tsv"
    )
    # the listing's order is an artifact of remove_weight_norm re-adding ``weight`` last
    assert sorted(_layout(HifiganGenerator(_dims()).state_dict())) == sorted(listing)


def test_weight_norm_state_dict_matches_listing() -> None:
    listing = read_listing(reference_dir() / "hifigan_v1_16k_generator_state_dict.tsv")
    state = unfold_weight_norm(HifiganGenerator(_dims()).state_dict())
    assert _layout(state) == listing
    assert sum(v.numel() for v in state.values()) == 4_864_546


def test_fold_weight_norm_matches_torch_parametrization() -> None:
    """torch's own weight_norm (fed the old weight_g/weight_v keys) gives the folded weight."""
    torch.manual_seed(0)
    for conv in (torch.nn.Conv1d(6, 4, 3), torch.nn.ConvTranspose1d(6, 4, 5, 2)):
        wn = torch.nn.utils.parametrizations.weight_norm(conv, dim=0)
        g = torch.rand(6 if isinstance(conv, torch.nn.ConvTranspose1d) else 4, 1, 1) + 0.5
        v = torch.randn_like(conv.parametrizations.weight.original1)
        wn.load_state_dict({"weight_g": g, "weight_v": v, "bias": conv.bias.detach()})
        folded = fold_weight_norm({"m.weight_g": g, "m.weight_v": v})
        torch.testing.assert_close(folded["m.weight"], wn.weight.detach(), atol=1e-6, rtol=1e-5)


def test_unfold_then_fold_is_identity() -> None:
    state = HifiganGenerator(_dims()).state_dict()
    back = fold_weight_norm(unfold_weight_norm(state))
    assert back.keys() == state.keys()
    for k, v in state.items():
        torch.testing.assert_close(back[k], v, atol=1e-6, rtol=1e-5)


def test_fold_weight_norm_rejects_orphan_v() -> None:
    with pytest.raises(KeyError, match="weight_g"):
        fold_weight_norm({"conv_pre.conv1d.weight_v": torch.ones(2, 1, 1)})


def test_output_length_is_hop_times_frames() -> None:
    torch.manual_seed(0)
    dims = HifiganDims(channels=32)
    gen = HifiganGenerator(dims).eval()
    wav = gen(torch.randn(1, 80, 7))
    assert wav.shape == (1, 1, 7 * dims.hop_length) and dims.hop_length == 200
    assert float(wav.abs().max()) < 1.0


@pytest.fixture(scope="module")
def golden_generator() -> HifiganGenerator:
    state = torch.load(
        reference_dir() / "golden" / "hifigan_seed0.pth", map_location="cpu", weights_only=True
    )
    gen = HifiganGenerator(_dims())
    gen.load_state_dict(fold_weight_norm(state), strict=True)
    return gen.eval()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mel", "wav"),
    [("voc_in_mel_randn", "voc_out_wav_randn"), ("voc_in_mel_from_am", "voc_out_wav_from_am")],
)
def test_golden_waveform_within_1e4(golden_generator: HifiganGenerator, mel: str, wav: str) -> None:
    golden = reference_dir() / "golden"
    x = torch.from_numpy(np.load(golden / f"{mel}.npy"))
    y = golden_generator(x.T[None]).view(-1).numpy()
    expected = np.load(golden / f"{wav}.npy")
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_golden_first_pcm_samples(golden_generator: HifiganGenerator) -> None:
    import json

    golden = reference_dir() / "golden"
    meta = json.loads((golden / "golden_meta.json").read_text())
    x = torch.from_numpy(np.load(golden / "voc_in_mel_from_am.npy"))
    y = golden_generator(x.T[None]).view(-1).numpy()
    pcm = (32768.0 * y).astype(np.int16)
    assert np.abs(pcm[:10].astype(int) - np.array(meta["pcm16_first10"])).max() <= 1
