"""``/v1/dialog`` with the real models: one Whisper encoder pass per final utterance serves
recognition and the emotion bridge, and the emotion event carries the fused estimate."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tests.engine_real import load_real_services
from tests.engine_server import engine_test_config, running_server
from tingshuo.asr.whisper_backend import WhisperRecognizer
from tingshuo.core.audio import Audio, read_audio
from tingshuo.engine.dialog_client import DialogClient
from tingshuo.engine.events import EmotionEvent, SessionStart, TranscriptFinal

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    config = engine_test_config()
    # no partials and no prefetch: every encoder call is then the final utterance's
    endpoint = dataclasses.replace(
        config.asr.endpoint, partial_interval_ms=10**6, prefetch_silence_ms=0
    )
    config = dataclasses.replace(config, asr=dataclasses.replace(config.asr, endpoint=endpoint))
    services = load_real_services(config)
    if not isinstance(services.recognizer, WhisperRecognizer):
        pytest.skip("the default recognizer is not Whisper")
    with running_server(config, services) as base:
        yield base, services


def _casia_clip(shared: Path) -> Path:
    root = shared / "eval" / "emotion-speech" / "casia-2spk"
    if not (root / "labels.tsv").is_file():
        pytest.skip("casia-2spk not in ../shared")
    with (root / "labels.tsv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return root / "wav" / next(r["file"] for r in rows if r["emotion"] == "angry")


def test_one_encoder_pass_per_final_and_fused_emotion(engine, shared: Path) -> None:  # noqa: ANN001
    base, services = engine
    rec: WhisperRecognizer = services.recognizer
    calls: list[int] = []
    original = rec._encode

    def counting(features):  # noqa: ANN001, ANN202
        calls.append(1)
        return original(features)

    rec._encode = counting
    clip = read_audio(_casia_clip(shared), 16000)
    pad = np.zeros(int(1.2 * 16000), np.float32)
    audio = Audio(np.concatenate([pad[:4800], clip.samples, pad]), 16000)

    async def main() -> DialogClient:
        url = base.replace("http", "ws") + "/v1/dialog"
        async with DialogClient(
            url, SessionStart(sample_rate_in=16000, sample_rate_out=24000, reply=False)
        ) as client:
            await client.stream(audio, realtime=False)
            await client.wait_for(EmotionEvent, 120)
            return client

    try:
        client = asyncio.run(main())
    finally:
        rec._encode = original
    finals = client.of(TranscriptFinal)
    emotions = client.of(EmotionEvent)
    assert len(finals) == 1 and finals[0].text
    assert len(calls) == len(finals) == 1, f"{len(calls)} encoder passes for one utterance"
    event = emotions[0]
    assert event.source == "fused"
    assert 0.0 < event.confidence <= 1.0
    assert abs(sum(event.distribution.values()) - 1.0) < 0.01
    if not event.uncertain:
        assert event.confidence == pytest.approx(max(event.distribution.values()), abs=1e-3)
