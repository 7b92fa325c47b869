"""Test helper: tiny random-weight FunASR model directories built with funasr's own classes.

Each builder writes the layout a ModelScope download has — ``config.yaml``, ``model.pt`` (a
``state_dict`` saved with ``torch.save``), ``tokens.json``, ``am.mvn`` (Kaldi nnet text with
``<AddShift>``/``<Rescale>``) — so tests run the real ``AutoModel`` load-and-generate path with
no hub. Weights are random (seeded); outputs are checked for structure, never for text.
The CIF predictor's output bias is raised so the random model emits tokens deterministically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

N_MELS = 80
LFR_M, LFR_N = 7, 6  # Paraformer frontend: stack 7 frames, hop 6 (560-d input)
VAD_LFR_M = 5  # fsmn-vad: 400-d input
DIM = 32  # tiny model width
# a small vocabulary: a block of CJK ideographs plus the characters tests use as hotwords
CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 300)] + list(
    "欢迎大家来体验达摩院语音识别模型你好世界"
)


def _unique(chars: list[str]) -> list[str]:
    return list(dict.fromkeys(chars))


def _tokens(extra: list[str] | None = None) -> list[str]:
    return ["<blank>", "<s>", "</s>", *_unique(CHARS + (extra or [])), "<unk>"]


def _write_common(
    directory: Path, config: dict[str, Any], model: Any, tokens: list[str] | None, dim: int | None
) -> Path:
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    if tokens is not None:
        (directory / "tokens.json").write_text(json.dumps(tokens, ensure_ascii=False))
    if dim is not None:
        write_am_mvn(directory / "am.mvn", dim)
    torch.save(model.state_dict(), directory / "model.pt")
    return directory


def write_am_mvn(path: Path, dim: int) -> None:
    """A Kaldi nnet-text CMVN file (zero shift, unit scale) of width ``dim``."""
    zeros = " ".join(["0"] * dim)
    ones = " ".join(["1"] * dim)
    path.write_text(
        "<Nnet>\n"
        f"<Splice> {dim} {dim}\n[ 0 ]\n"
        f"<AddShift> {dim} {dim}\n<LearnRateCoef> 0 [ {zeros} ]\n"
        f"<Rescale> {dim} {dim}\n<LearnRateCoef> 0 [ {ones} ]\n"
        "</Nnet>\n"
    )


def _frontend(lfr_m: int, lfr_n: int, online: bool = False) -> dict[str, Any]:
    return {
        "frontend": "WavFrontendOnline" if online else "WavFrontend",
        "frontend_conf": {
            "fs": 16000,
            "window": "hamming",
            "n_mels": N_MELS,
            "frame_length": 25,
            "frame_shift": 10,
            "lfr_m": lfr_m,
            "lfr_n": lfr_n,
        },
    }


def _sanm_encoder(name: str = "SANMEncoder", **extra: Any) -> dict[str, Any]:
    return {
        "encoder": name,
        "encoder_conf": {
            "output_size": DIM,
            "attention_heads": 2,
            "linear_units": 64,
            "num_blocks": 2,
            "dropout_rate": 0.0,
            "positional_dropout_rate": 0.0,
            "attention_dropout_rate": 0.0,
            "input_layer": "pe",
            "normalize_before": True,
            "kernel_size": 11,
            "sanm_shfit": 0,
            "selfattention_layer_type": "sanm",
            **extra,
        },
    }


def _decoder(sanm_shfit: int = 0) -> dict[str, Any]:
    return {
        "decoder": "ParaformerSANMDecoder",
        "decoder_conf": {
            "attention_heads": 2,
            "linear_units": 64,
            "num_blocks": 2,
            "dropout_rate": 0.0,
            "positional_dropout_rate": 0.0,
            "self_attention_dropout_rate": 0.0,
            "src_attention_dropout_rate": 0.0,
            "att_layer_num": 2,
            "kernel_size": 11,
            "sanm_shfit": sanm_shfit,
        },
    }


def _build(config: dict[str, Any], directory: Path, tokens: list[str] | None) -> Any:
    """Instantiate the configured model through funasr's registry (as AutoModel does)."""
    import torch
    from funasr.register import tables

    torch.manual_seed(0)
    conf = dict(config)
    frontend = None
    if conf.get("frontend"):
        frontend = tables.frontend_classes.get(conf["frontend"])(**conf["frontend_conf"])
    model_class = tables.model_classes.get(conf["model"])
    kwargs = {**conf.get("model_conf", {}), **conf}
    kwargs["vocab_size"] = len(tokens) if tokens else -1
    kwargs["input_size"] = frontend.output_size() if frontend is not None else None
    model = model_class(**kwargs)
    return model


def _emit_tokens(model: Any) -> None:
    """Raise the CIF firing rate so the random model predicts some tokens."""
    import torch

    with torch.no_grad():
        model.predictor.cif_output.weight.zero_()
        model.predictor.cif_output.bias.fill_(0.0)  # sigmoid(0)=0.5: one token per 2 frames


_CIF_V2: dict[str, Any] = {
    "idim": DIM,
    "threshold": 1.0,
    "l_order": 1,
    "r_order": 1,
    "tail_threshold": 0.45,
}


def paraformer_config(seaco: bool = False) -> dict[str, Any]:
    """config.yaml of an offline Paraformer (``seaco``: the SeacoParaformer paraformer-zh layout)."""
    config: dict[str, Any] = {
        "model": "SeacoParaformer" if seaco else "Paraformer",
        "model_conf": {
            "ctc_weight": 0.0,
            "lsm_weight": 0.1,
            "length_normalized_loss": True,
            "predictor_weight": 1.0,
            "predictor_bias": 1,
            "sampling_ratio": 0.75,
        },
        **_frontend(LFR_M, LFR_N),
        **_sanm_encoder(),
        **_decoder(),
        "predictor": "CifPredictorV2",
        "predictor_conf": _CIF_V2,
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True},
    }
    if seaco:  # paraformer-zh: CIF v3 with upsampled timestamps, hotword bias decoder
        config["predictor"] = "CifPredictorV3"
        config["predictor_conf"] = {
            **_CIF_V2,
            "smooth_factor2": 0.25,
            "noise_threshold2": 0.01,
            "upsample_times": 3,
            "use_cif1_cnn": False,
            "upsample_type": "cnn_blstm",
        }
        config["model_conf"].update(
            {"inner_dim": DIM, "bias_encoder_type": "lstm", "seaco_weight": 1.0, "NO_BIAS": 0}
        )
        config["seaco_decoder"] = "ParaformerSANMDecoder"
        config["seaco_decoder_conf"] = {
            "attention_heads": 2,
            "linear_units": 64,
            "num_blocks": 1,
            "dropout_rate": 0.0,
            "positional_dropout_rate": 0.0,
            "self_attention_dropout_rate": 0.0,
            "src_attention_dropout_rate": 0.0,
            "kernel_size": 21,
            "sanm_shfit": 0,
            "use_output_layer": False,
            "wo_input_layer": True,
        }
    return config


def build_paraformer(directory: Path, seaco: bool = False) -> Path:
    """A tiny offline Paraformer / SeacoParaformer model dir.

    The SeacoParaformer dir also gets the hub's ``configuration.json`` (``file_path_metas``),
    the layout in which FunASR silently builds a random model when ``model.pt`` is missing.
    """
    tokens = _tokens()
    config = paraformer_config(seaco)
    model = _build(config, directory, tokens)
    _emit_tokens(model)
    _write_common(directory, config, model, tokens, N_MELS * LFR_M)
    if seaco:
        metas = {
            "init_param": "model.pt",
            "config": "config.yaml",
            "tokenizer_conf": {"token_list": "tokens.json"},
            "frontend_conf": {"cmvn_file": "am.mvn"},
        }
        (directory / "configuration.json").write_text(
            json.dumps(
                {
                    "framework": "pytorch",
                    "task": "auto-speech-recognition",
                    "model": {"type": "funasr"},
                    "file_path_metas": metas,
                }
            )
        )
    return directory


def build_paraformer_streaming(directory: Path) -> Path:
    """A tiny ParaformerStreaming (SCAMA chunk encoder) model dir."""
    tokens = _tokens()
    config: dict[str, Any] = {
        "model": "ParaformerStreaming",
        "model_conf": {
            "ctc_weight": 0.0,
            "lsm_weight": 0.1,
            "length_normalized_loss": True,
            "predictor_weight": 1.0,
            "predictor_bias": 1,
            "sampling_ratio": 0.75,
        },
        **_frontend(LFR_M, LFR_N),
        **_sanm_encoder(
            "SANMEncoderChunkOpt",
            input_layer="pe_online",
            chunk_size=[12, 15],
            stride=[8, 10],
            pad_left=[0, 0],
            encoder_att_look_back_factor=[4, 4],
            decoder_att_look_back_factor=[1, 1],
        ),
        **_decoder(sanm_shfit=5),
        "predictor": "CifPredictorV2",
        "predictor_conf": _CIF_V2,
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>", "split_with_space": True},
        "ctc_conf": {"dropout_rate": 0.0, "ctc_type": "builtin", "reduce": True},
    }
    model = _build(config, directory, tokens)
    _emit_tokens(model)
    return _write_common(directory, config, model, tokens, N_MELS * LFR_M)


def build_fsmn_vad(directory: Path) -> Path:
    """A tiny fsmn-vad (FsmnVADStreaming) model dir."""
    config: dict[str, Any] = {
        "model": "FsmnVADStreaming",
        "model_conf": {
            "sample_rate": 16000,
            "detect_mode": 1,
            "max_end_silence_time": 800,
            "max_start_silence_time": 3000,
            "window_size_ms": 200,
            "sil_to_speech_time_thres": 150,
            "speech_to_sil_time_thres": 150,
            "speech_2_noise_ratio": 1.0,
            "do_extend": 1,
            "lookback_time_start_point": 200,
            "lookahead_time_end_point": 100,
            "max_single_segment_time": 60000,
            "snr_thres": -100.0,
            "decibel_thres": -100.0,
            "speech_noise_thres": 0.6,
            "silence_pdf_num": 1,
            "sil_pdf_ids": [0],
        },
        **_frontend(VAD_LFR_M, 1, online=True),
        "encoder": "FSMN",
        "encoder_conf": {
            "input_dim": N_MELS * VAD_LFR_M,
            "input_affine_dim": 16,
            "fsmn_layers": 2,
            "linear_dim": 16,
            "proj_dim": 8,
            "lorder": 4,
            "rorder": 0,
            "lstride": 1,
            "rstride": 0,
            "output_affine_dim": 16,
            "output_dim": 8,
        },
    }
    model = _build(config, directory, None)
    return _write_common(directory, config, model, None, N_MELS * VAD_LFR_M)


PUNC_LIST = ["<unk>", "_", "，", "。", "？", "、"]


def build_ct_punc(directory: Path) -> Path:
    """A tiny ct-punc (CTTransformer) model dir."""
    tokens = ["<blank>", "<s>", "</s>", *_unique(CHARS), "<unk>"]
    config: dict[str, Any] = {
        "model": "CTTransformer",
        "model_conf": {
            "ignore_id": 0,
            "embed_unit": DIM,
            "att_unit": DIM,
            "dropout_rate": 0.0,
            "punc_list": PUNC_LIST,
            "punc_weight": [1.0] * len(PUNC_LIST),
            "sentence_end_id": 3,
        },
        **_sanm_encoder(input_size=DIM, padding_idx=0),
        "tokenizer": "CharTokenizer",
        "tokenizer_conf": {"unk_symbol": "<unk>"},
    }
    model = _build(config, directory, tokens)
    return _write_common(directory, config, model, tokens, None)
