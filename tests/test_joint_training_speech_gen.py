"""The emotional-speech plan keeps evaluation voices and texts apart; a real synthesis round trip."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from tingshuo.core.emotions import EMOTIONS
from tingshuo.engine.config import EngineConfig, cache_root
from tingshuo.joint_training.cped import cped_records
from tingshuo.joint_training.manifest import read_manifest
from tingshuo.joint_training.speech_gen import (
    GenerationPlan,
    generate_speech,
    interleaved,
    plan_utterances,
    split_voices,
)

VOICES = ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]


def test_voices_split_disjoint_and_deterministic() -> None:
    train, held = split_voices(VOICES, GenerationPlan(eval_voices=1))
    assert len(held) == 1 and not set(train) & set(held)
    assert split_voices(VOICES, GenerationPlan(eval_voices=1)) == (train, held)
    with pytest.raises(ValueError):
        split_voices(["only"], GenerationPlan())


def test_plan_keeps_evaluation_apart(shared: Path) -> None:
    plan = GenerationPlan(train_per_emotion=4, valid_per_emotion=2, eval_per_emotion=3)
    utts = plan_utterances(VOICES, plan)
    by_split = Counter(u.split for u in utts)
    assert by_split == {"train": 4 * 7, "valid": 2 * 7, "test": 3 * 7}
    test_voices = {u.voice for u in utts if u.split == "test"}
    assert test_voices.isdisjoint({u.voice for u in utts if u.split != "test"})
    cped = {r.id: r for r in cped_records(shared)}
    for u in utts:
        src = cped[u.source.removeprefix("tts:")]
        assert src.text == u.text and src.emotion == u.emotion  # spoken in its labelled emotion
        assert src.split == u.split  # test texts come from CPED's test split only
        assert 0.6 <= u.intensity <= 1.6 and 0.9 <= u.rate <= 1.1
    assert Counter(u.emotion for u in utts if u.split == "test") == dict.fromkeys(EMOTIONS, 3)
    order = interleaved(utts)
    assert {u.split for u in order[:21]} == {
        "train",
        "valid",
        "test",
    }  # partial runs cover all splits


@pytest.mark.slow
def test_real_synthesis_round_trip(tmp_path: Path, shared: Path) -> None:
    from tingshuo.tts.factory import build_synthesizer

    config = EngineConfig()
    try:
        build_synthesizer(
            dataclasses.replace(
                config.tts, cache=dataclasses.replace(config.tts.cache, enabled=False)
            ),
            cache_root(config),
        )
    except Exception as exc:  # noqa: BLE001 - any missing model means skip
        pytest.skip(f"synthesizer unavailable: {exc}")
    plan = GenerationPlan(train_per_emotion=0, valid_per_emotion=0, eval_per_emotion=1, max_chars=8)
    path = generate_speech(config.tts, cache_root(config), tmp_path, plan, progress=False)
    rows = read_manifest(path)
    assert len(rows) == 7 and {r.split for r in rows} == {"test"}
    assert all(Path(r.audio or "").stat().st_size > 8000 for r in rows)
