"""tts.kokoro: the onnxruntime session options Kokoro runs with, and that config reaches them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tingshuo.tts import kokoro as kk
from tingshuo.tts.config import KokoroConfig


def test_session_options_are_applied() -> None:
    opts = kk.session_options(3, "extended")
    assert opts.intra_op_num_threads == 3
    assert opts.inter_op_num_threads == 1
    assert opts.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert opts.get_session_config_entry("session.inter_op.allow_spinning") == "0"
    assert opts.enable_cpu_mem_arena and opts.enable_mem_pattern
    assert kk.session_options(0, "all").intra_op_num_threads == 1  # at least one thread
    levels = {
        name: kk.session_options(1, name).graph_optimization_level for name in kk.GRAPH_OPTIMIZATION
    }
    assert levels["disable"] == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert levels["basic"] == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    assert levels["all"] == ort.GraphOptimizationLevel.ORT_ENABLE_ALL


def test_unknown_optimization_level_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="graph_optimization must be one of"):
        kk.session_options(2, "max")


def test_default_level_is_all() -> None:
    assert KokoroConfig().graph_optimization == "all"


def test_synthesizer_opens_its_session_with_the_configured_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[Any, ...]] = []

    def fake_session(path: Path, threads: int, graph_optimization: str = "all") -> object:
        seen.append((path, threads, graph_optimization))
        return object()

    monkeypatch.setattr(kk, "_session", fake_session)
    synth = kk.KokoroSynthesizer(tmp_path / "m.onnx", threads=1, graph_optimization="basic")
    assert seen == [(tmp_path / "m.onnx", 1, "basic")]
    assert synth.graph_optimization == "basic"
    assert np.asarray(synth.voices()).size > 0
