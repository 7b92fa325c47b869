"""Shared helpers for the SAM-BERT tests: reference paths and listing readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.core.paths import shared_dir

COMPUTED_KEYS = {
    "text_encoder.ling_enc.position_enc.position_enc",
    "variance_adaptor.dur_position_encoder.inv_timescales",
}


def reference_dir() -> Path:
    """``../shared/reference/sambert``, or a visible skip when it is absent."""
    path = shared_dir() / "reference" / "sambert"
    if not path.is_dir():
        pytest.skip(f"SAM-BERT reference facts not found at {path}")
    return path


def read_listing(path: Path) -> list[tuple[str, list[int]]]:
    """``key<TAB>[shape]<TAB>dtype`` lines -> [(key, shape)] in file order."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        key, shape, dtype = line.split("\t")
        assert dtype == "float32"
        inner = shape.strip("[]").strip()
        rows.append((key, [int(s) for s in inner.split(",")] if inner else []))
    return rows


TINY_AM_PARAMS = {
    "max_len": 64,
    "embedding_dim": 16,
    "encoder_num_layers": 2,
    "encoder_num_heads": 2,
    "encoder_num_units": 8,
    "encoder_ffn_inner_dim": 16,
    "encoder_projection_units": 8,
    "speaker_units": 8,
    "emotion_units": 8,
    "predictor_filter_size": 5,
    "predictor_fsmn_num_layers": 2,
    "predictor_num_memory_units": 8,
    "predictor_ffn_inner_dim": 16,
    "predictor_shift": 0,
    "predictor_lstm_units": 8,
    "dur_pred_prenet_units": [8, 8],
    "dur_pred_lstm_units": 8,
    "decoder_prenet_units": [16, 16],
    "decoder_num_layers": 2,
    "decoder_num_heads": 2,
    "decoder_num_units": 8,
    "decoder_ffn_inner_dim": 16,
    "outputs_per_step": 3,
    "num_mels": 80,
    "postnet_filter_size": 5,
    "postnet_fsmn_num_layers": 2,
    "postnet_num_memory_units": 8,
    "postnet_ffn_inner_dim": 16,
    "postnet_shift": 1,
    "postnet_lstm_units": 8,
    "MAS": False,
}
TINY_VOC_PARAMS = {
    "in_channels": 80,
    "out_channels": 1,
    "channels": 16,
    "kernel_size": 7,
    "upsample_scales": [10, 5, 2, 2],
    "upsample_kernal_sizes": [20, 10, 4, 4],
    "resblock_kernel_sizes": [3],
    "resblock_dilations": [[1, 3]],
    "bias": True,
    "causal": True,
    "nonlinear_activation": "LeakyReLU",
    "nonlinear_activation_params": {"negative_slope": 0.1},
    "use_weight_norm": True,
}


def write_voice(root: Path, name: str, seed: int = 0, step: int = 0) -> Path:
    """A voice in the ModelScope layout with tiny random weights (durations ~4 frames)."""
    import math

    import torch
    import yaml

    from tingshuo.tts.sambert.acoustic_model import SambertModel
    from tingshuo.tts.sambert.dims import HifiganDims, SambertDims
    from tingshuo.tts.sambert.hifigan import HifiganGenerator, unfold_weight_norm

    torch.manual_seed(seed)
    vdir = root / "voices" / name
    (vdir / "am" / "ckpt").mkdir(parents=True, exist_ok=True)
    (vdir / "voc" / "ckpt").mkdir(parents=True, exist_ok=True)
    am_cfg = {
        "model_type": "sambert",
        "Model": {"KanTtsSAMBERT": {"params": TINY_AM_PARAMS}},
        "linguistic_unit": {
            "cleaners": "english_cleaners",
            "lfeat_type_list": "sy,tone,syllable_flag,word_segment,emo_category,speaker_category",
            "speaker_list": "F7",
        },
    }
    (vdir / "am" / "config.yaml").write_text(yaml.safe_dump(am_cfg))
    (vdir / "voc" / "config.yaml").write_text(
        yaml.safe_dump(
            {"model_type": "hifigan", "Model": {"Generator": {"params": TINY_VOC_PARAMS}}}
        )
    )
    (vdir / "audio_config.yaml").write_text(
        yaml.safe_dump({"audio_config": {"sampling_rate": 16000, "hop_length": 200, "n_mels": 80}})
    )
    am = SambertModel(SambertDims.from_params(TINY_AM_PARAMS))
    with torch.no_grad():
        am.variance_adaptor.duration_predictor.fc.weight.zero_()
        am.variance_adaptor.duration_predictor.fc.bias.fill_(math.log(5.0))
        am.emo_tokenizer.weight.mul_(5.0)  # emotions clearly apart
    torch.save(
        {"model": am.state_dict(), "steps": step}, vdir / "am" / "ckpt" / f"checkpoint_{step}.pth"
    )
    gen = HifiganGenerator(HifiganDims.from_params(TINY_VOC_PARAMS))
    torch.save(
        {"model": {"generator": unfold_weight_norm(gen.state_dict())}, "steps": step},
        vdir / "voc" / "ckpt" / f"checkpoint_{step}.pth",
    )
    return vdir


def write_tiny_model_dir(root: Path, voices: tuple[str, ...] = ("zhitian_emo", "plain")) -> Path:
    """A complete tiny ModelScope Sambert-HifiGan directory with ``voices``."""
    import json

    for i, name in enumerate(voices):
        write_voice(root, name, seed=i)
    (root / "voices" / "voices.json").write_text(json.dumps({"voices": list(voices)}))
    (root / "configuration.json").write_text(
        json.dumps(
            {"framework": "pytorch", "task": "text-to-speech", "model": {"type": "sambert-hifigan"}}
        )
    )
    return root
