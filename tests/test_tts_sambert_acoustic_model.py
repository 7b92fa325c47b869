"""SAM-BERT acoustic model: checkpoint layout equality and golden numerical equivalence."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from tests.sambert_helpers import COMPUTED_KEYS, read_listing, reference_dir
from tingshuo.tts.sambert.acoustic_model import SambertModel
from tingshuo.tts.sambert.dims import SambertDims, TableSizes

torch.set_num_threads(2)


def _params() -> dict:
    cfg = yaml.safe_load((reference_dir() / "configs" / "sambert_16k.yaml").read_text())
    return cfg["Model"]["KanTtsSAMBERT"]["params"]


def _layout(model: torch.nn.Module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in model.state_dict().items()]


def test_state_dict_matches_listing() -> None:
    listing = read_listing(reference_dir() / "sambert_16k_state_dict.tsv")
    model = SambertModel(SambertDims.from_params(_params()))
    assert _layout(model) == [row for row in listing if row[0] not in COMPUTED_KEYS]
    assert all(v.dtype == torch.float32 for v in model.state_dict().values())
    # the two computed tables exist as buffers with the listed shapes
    assert list(model.text_encoder.ling_enc.position_enc.position_enc.shape) == [1, 800, 512]
    assert list(model.variance_adaptor.dur_position_encoder.inv_timescales.shape) == [32]


def test_mas_state_dict_matches_listing() -> None:
    listing = read_listing(reference_dir() / "sambert_16k_MAS_state_dict.tsv")
    model = SambertModel(SambertDims.from_params({**_params(), "MAS": True}))
    assert sorted(_layout(model)) == sorted(r for r in listing if r[0] not in COMPUTED_KEYS)


def test_table_sizes_come_from_checkpoint_shapes() -> None:
    """A 6-speaker, mask-less table layout is read from the tensors, not assumed."""
    base = SambertModel(SambertDims.from_params(_params())).state_dict()
    state = dict(base)
    state["spk_tokenizer.weight"] = torch.zeros(9, 32)
    state["text_encoder.sy_emb.weight"] = torch.zeros(146, 512)
    sizes = TableSizes.from_state_dict(state)
    assert (sizes.sy, sizes.speaker, sizes.emotion) == (146, 9, 36)
    model = SambertModel(SambertDims.from_params(_params(), sizes))
    model.load_state_dict(state, strict=True)
    del state["emo_tokenizer.weight"]
    with pytest.raises(KeyError, match="emo_tokenizer.weight"):
        TableSizes.from_state_dict(state)


def test_se_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="SE"):
        SambertDims.from_params({**_params(), "SE": True})


@pytest.fixture(scope="module")
def golden_run() -> tuple[dict, object]:
    golden = reference_dir() / "golden"
    state = torch.load(golden / "sambert_seed0.pth", map_location="cpu", weights_only=True)
    model = SambertModel(SambertDims.from_params(_params(), TableSizes.from_state_dict(state)))
    model.load_state_dict(state, strict=True)
    model.eval()

    def arr(name: str) -> torch.Tensor:
        return torch.from_numpy(np.load(golden / f"{name}.npy"))

    out = model(
        arr("am_in_inputs_ling").long(),
        arr("am_in_inputs_emotion").long(),
        arr("am_in_inputs_speaker").long(),
        arr("am_in_input_lengths").long(),
    )
    expected = {p.stem: np.load(p) for p in golden.glob("am_out_*.npy")}
    return expected, out


@pytest.mark.slow
def test_golden_outputs_within_1e4(golden_run) -> None:
    expected, out = golden_run
    ad = out.adaptor
    produced = {
        "am_out_postnet_outputs": out.postnet_outputs,
        "am_out_dec_outputs": out.dec_outputs,
        "am_out_mel_valid": out.mel(),
        "am_out_log_duration_predictions": ad.log_durations,
        "am_out_pitch_predictions": ad.pitch,
        "am_out_energy_predictions": ad.energy,
        "am_out_LR_text_outputs": ad.lr_text,
        "am_out_LR_emo_outputs": ad.lr_emo,
        "am_out_LR_spk_outputs": ad.lr_spk,
    }
    for name, tensor in produced.items():
        assert tensor.shape == expected[name].shape, name
        np.testing.assert_allclose(tensor.numpy(), expected[name], atol=1e-4, rtol=0, err_msg=name)
    assert out.valid_lengths.tolist() == expected["am_out_LR_length_rounded"].tolist() == [113]
    assert ad.band_width == 5


@pytest.mark.slow
def test_golden_durations(golden_run, shared) -> None:
    import json

    meta = json.loads((reference_dir() / "golden" / "golden_meta.json").read_text())
    _, out = golden_run
    dur = torch.exp(out.adaptor.log_durations) - 1.0
    assert (dur + 0.5).long()[0].tolist() == meta["durations_rounded"]


@pytest.mark.slow
def test_computed_tables_equal_stored_ones() -> None:
    """Without the two stored tables (as in official checkpoints) the output is the same."""
    golden = reference_dir() / "golden"
    state = torch.load(golden / "sambert_seed0.pth", map_location="cpu", weights_only=True)
    model = SambertModel(SambertDims.from_params(_params(), TableSizes.from_state_dict(state)))
    computed = (
        model.text_encoder.ling_enc.position_enc.position_enc.clone(),
        model.variance_adaptor.dur_position_encoder.inv_timescales.clone(),
    )
    stored = [state[k] for k in sorted(COMPUTED_KEYS)]
    assert torch.allclose(computed[0], stored[0], atol=1e-6)
    assert torch.allclose(computed[1], stored[1], atol=1e-6)
    lean = {k: v for k, v in state.items() if k not in COMPUTED_KEYS}
    model.load_state_dict(lean, strict=True)
