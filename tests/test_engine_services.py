"""engine.services: a bridge checkpoint that cannot load fails the start-up, loudly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.engine_doubles import ScriptedRecognizer, ToneSynthesizer
from tingshuo.dialog.checkpoint import CheckpointError
from tingshuo.engine.config import EngineConfig
from tingshuo.engine.services import Services


def test_missing_bridge_checkpoint_fails_the_start_up(tmp_path: Path) -> None:
    base = EngineConfig()
    dialog = dataclasses.replace(base.dialog, bridge_checkpoint=str(tmp_path / "nope"))
    config = dataclasses.replace(base, dialog=dialog)
    with pytest.raises(CheckpointError, match="nope"):
        Services.load(config, recognizer=ScriptedRecognizer([]), synthesizer=ToneSynthesizer())


def test_the_recognizer_is_told_when_other_finals_are_running_or_queued() -> None:
    """Services hands a Whisper-like recognizer (one with ``busy``) the pool's view: busy
    while a final decode besides the caller's own is running or waiting."""
    import asyncio
    import threading

    from tests.engine_doubles import EchoKnowledgePolicy, KeywordEmotionBridge
    from tingshuo.engine.workers import Priority

    recognizer = ScriptedRecognizer([])
    recognizer.busy = None  # type: ignore[attr-defined]
    bridge = KeywordEmotionBridge()
    services = Services(
        EngineConfig(), recognizer, ToneSynthesizer(), bridge, EchoKnowledgePolicy(bridge)
    )

    async def main() -> list[bool]:
        services.start()
        seen: list[bool] = []
        gate = threading.Event()

        def final(wait: bool) -> None:
            seen.append(recognizer.busy())  # type: ignore[attr-defined]
            if wait:
                gate.wait(5)

        await services.run("asr", final, False, priority=Priority.FINAL)  # alone: not busy
        first = asyncio.ensure_future(services.run("asr", final, True, priority=Priority.FINAL))
        await asyncio.sleep(0.1)
        second = asyncio.ensure_future(services.run("asr", final, False, priority=Priority.FINAL))
        await asyncio.sleep(0.1)
        gate.set()
        await asyncio.gather(first, second)
        assert services.pool is not None
        services.pool.shutdown()
        return seen

    assert asyncio.run(main()) == [False, False, True]
