"""tts.factory: backend selection, cache wrapping, status rows, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tingshuo.engine.config import cache_root, load_config
from tingshuo.tts.factory import (
    UnknownBackendError,
    backend_status,
    build_synthesizer,
    with_model_dir,
)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(UnknownBackendError, match="expected one of: kokoro, sambert"):
        build_synthesizer(load_config().tts, Path("/nonexistent"), "festival")


def test_with_model_dir_targets_the_backend_section() -> None:
    tts = with_model_dir(load_config().tts, "sambert", "/models/zhitian")
    assert tts.sambert.model_dir == "/models/zhitian"
    assert tts.kokoro.model_dir == ""


def test_status_rows(tmp_path) -> None:  # noqa: ANN001
    cfg = load_config(overrides=[f'cache_dir="{tmp_path}"'])
    rows = {r["name"]: r for r in backend_status(cfg.tts, cache_root(cfg))}
    assert set(rows) == {"kokoro", "sambert"}
    for row in rows.values():
        assert set(row) >= {"name", "ready", "where", "detail"}
    assert rows["kokoro"]["ready"] is True  # weight packages are installed
    assert str(tmp_path) in rows["kokoro"]["where"]
    assert not (tmp_path / "models").exists()  # status assembles nothing


@pytest.mark.slow
def test_default_build_is_cached_kokoro(tmp_path) -> None:  # noqa: ANN001
    from tingshuo.tts.cache import CachedSynthesizer

    cfg = load_config(overrides=[f'tts.cache.dir="{tmp_path / "syn"}"'])
    synth = build_synthesizer(cfg.tts, cache_root(cfg))
    assert isinstance(synth, CachedSynthesizer) and synth.name == "kokoro"
    first = synth.synthesize("你好。")
    again = synth.synthesize("你好。")
    assert synth.cache.stats()["hits"] == 1
    assert (first.samples == again.samples).all()
