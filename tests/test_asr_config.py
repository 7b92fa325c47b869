"""The [asr] config section: defaults and overrides through TOML, env and --set."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.asr.config import ASRConfig, EndpointConfig, GuardConfig
from tingshuo.engine.config import load_config


def test_defaults_match_the_recipe() -> None:
    cfg = ASRConfig()
    assert cfg.backend == "whisper" and not cfg.itn
    assert (cfg.whisper.beam_size, cfg.whisper.temperatures) == (5, (0.0,))
    assert cfg.whisper.initial_prompt == ""  # a Chinese prompt can come back as the text
    assert cfg.paraformer.chunk_size == (0, 10, 5)
    assert GuardConfig().compression_ratio_threshold == 2.4
    assert EndpointConfig().frame_ms in (10, 20, 30)


def test_toml_env_and_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[asr]\nbackend = "paraformer"\n[asr.paraformer]\nmodel = "/models/seaco"\n'
        "[asr.endpoint]\nmin_silence_ms = 800\n"
    )
    env = {"TINGSHUO_ASR__PARAFORMER__CHUNK_SIZE": "0,8,4", "TINGSHUO_ASR__ITN": "true"}
    cfg = load_config(toml, env=env, overrides=["asr.guard.min_repeats=5"]).asr
    assert cfg.backend == "paraformer" and cfg.paraformer.model == "/models/seaco"
    assert cfg.endpoint.min_silence_ms == 800
    assert cfg.paraformer.chunk_size == (0, 8, 4)
    assert cfg.itn is True
    assert cfg.guard.min_repeats == 5


def test_transcription_profile_ends_at_long_pauses_only() -> None:
    cfg = ASRConfig()
    dialogue, transcription = cfg.endpoint_for("dialogue"), cfg.endpoint_for("transcription")
    # the dialogue turn endpointing keeps its reply-latency defaults
    assert (dialogue.min_silence_ms, dialogue.max_utterance_s) == (600, 20.0)
    assert transcription.min_silence_ms >= 1000 > dialogue.min_silence_ms
    assert 20.0 < transcription.max_utterance_s < 30.0  # inside Whisper's 30 s window
    assert isinstance(transcription, EndpointConfig)  # the same endpointer runs it
    with pytest.raises(ValueError, match="profile"):
        cfg.endpoint_for("meeting")


def test_transcription_profile_from_toml_keeps_its_own_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text("[asr.transcription_endpoint]\nmin_silence_ms = 1500\n")
    cfg = load_config(toml, env={}).asr
    assert cfg.transcription_endpoint.min_silence_ms == 1500
    # unset keys keep the transcription defaults, not the dialogue ones
    assert (
        cfg.transcription_endpoint.max_utterance_s
        == ASRConfig().transcription_endpoint.max_utterance_s
    )
    assert cfg.endpoint == EndpointConfig()
