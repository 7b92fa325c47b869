"""engine.config: defaults, TOML, env vars and CLI overrides resolve in priority order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.engine.config import ConfigError, EngineConfig, load_config


def test_defaults_bind_loopback_and_use_offline_backends() -> None:
    cfg = load_config(env={})
    assert cfg == EngineConfig()
    assert cfg.server.host == "127.0.0.1"
    assert (cfg.asr.backend, cfg.tts.backend) == ("whisper", "kokoro")


def test_priority_toml_env_override(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[server]\nport = 9001\nhost = "0.0.0.0"\n[asr.endpoint]\nmin_silence_ms = 400\n'
    )
    cfg = load_config(
        toml,
        env={
            "TINGSHUO_SERVER__PORT": "9002",
            "TINGSHUO_CACHE_DIR": "/tmp/x",
            "TINGSHUO_OTHER": "1",
        },
        overrides=["asr.paraformer.chunk_size=[0, 8, 4]"],
    )
    assert cfg.server.port == 9002  # env beats file
    assert cfg.server.host == "0.0.0.0"  # file beats default
    assert cfg.asr.endpoint.min_silence_ms == 400
    assert cfg.asr.paraformer.chunk_size == (0, 8, 4)
    assert cfg.cache_dir == "/tmp/x"


def test_config_is_frozen() -> None:
    cfg = load_config(env={})
    with pytest.raises(AttributeError):
        cfg.server.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["server.nope=1"], "unknown config key"),
        (["server.port=abc"], "expected int"),
        (["server"], "must look like"),
        (["security.auth=maybe"], "expected a boolean"),
    ],
)
def test_bad_values_are_clear_errors(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env={}, overrides=overrides)


def test_missing_and_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, env={})


def test_recognizer_config_adds_the_kb_hotwords_once() -> None:
    from tingshuo.engine.config import recognizer_config

    cfg = load_config(env={}, overrides=["asr.hotwords=云朵记忆枕 听说"])
    words = recognizer_config(cfg).hotwords.split()
    assert words[:2] == ["云朵记忆枕", "听说"] and "极光降噪耳机" in words
    assert words.count("云朵记忆枕") == 1
    off = load_config(env={}, overrides=["asr.kb_hotwords=false"])
    assert recognizer_config(off).hotwords == ""
