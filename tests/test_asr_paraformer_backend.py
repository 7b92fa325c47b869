"""FunASR backend end to end on tiny random-weight model dirs (real AutoModel load + generate).

Weights are random, so the checks are about structure — result keys, timestamps, segments,
event order — never about the recognised text.
"""

from __future__ import annotations

from pathlib import Path

import funasr_tiny
import numpy as np
import pytest

from tingshuo.asr.base import FinalResult, PartialResult, Recognizer, SpeechStarted, SpeechStopped
from tingshuo.asr.config import ASRConfig, ParaformerConfig
from tingshuo.asr.factory import build_recognizer
from tingshuo.asr.funasr_models import load_automodel
from tingshuo.asr.paraformer_backend import ParaformerRecognizer
from tingshuo.core.audio import read_audio
from tingshuo.core.errors import ModelNotFoundError
from tingshuo.engine.config import cache_root, load_config

pytestmark = pytest.mark.slow  # trains or loads real models: not in the fast loop

pytest.importorskip("funasr", reason="FunASR extra not installed")

PUNCT = "，。？、"


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("funasr")
    return {
        "paraformer": funasr_tiny.build_paraformer(root / "paraformer"),
        "seaco": funasr_tiny.build_paraformer(root / "seaco", seaco=True),
        "streaming": funasr_tiny.build_paraformer_streaming(root / "streaming"),
        "vad": funasr_tiny.build_fsmn_vad(root / "vad"),
        "punc": funasr_tiny.build_ct_punc(root / "punc"),
    }


@pytest.fixture(scope="module")
def clip(asr_dev: Path):
    return read_audio(asr_dev / "wav" / "funasr_asr_example_zh.wav", 16000)


def make(dirs: dict[str, Path], **fields: str) -> ParaformerRecognizer:
    pc = ParaformerConfig(**{k: str(dirs[v]) for k, v in fields.items()})
    return ParaformerRecognizer(ASRConfig(backend="paraformer", paraformer=pc))


@pytest.fixture(scope="module")
def full(dirs) -> ParaformerRecognizer:
    return make(
        dirs, model="seaco", streaming_model="streaming", vad_model="vad", punc_model="punc"
    )


def test_automodel_result_structure(dirs, clip) -> None:
    seaco = load_automodel(dirs["seaco"])
    result = seaco.generate(input=clip.samples, hotword="达摩院 语音识别")
    assert isinstance(result, list) and len(result) == 1
    assert {"key", "text", "timestamp"} <= set(result[0])
    tokens = result[0]["text"].split()
    stamps = result[0]["timestamp"]
    assert len(stamps) == len(tokens) > 0
    assert all(0 <= b < e <= clip.duration * 1000 + 60 for b, e in stamps)
    assert [b for b, _ in stamps] == sorted(b for b, _ in stamps)
    vad = load_automodel(dirs["vad"]).generate(input=clip.samples)
    assert {"key", "value"} <= set(vad[0])
    assert all(0 <= b < e for b, e in vad[0]["value"])


def test_plain_paraformer_offline(dirs, clip) -> None:
    rec = make(dirs, model="paraformer")
    assert isinstance(rec, Recognizer) and rec.name == "paraformer"
    t = rec.transcribe(clip)
    assert t.text and " " not in t.text
    assert len(t.segments) == 1
    assert t.segments[0].start == 0.0 and t.segments[0].end == pytest.approx(clip.duration)


def test_seaco_vad_punc_transcript(full, clip) -> None:
    t = full.transcribe(clip, hotwords="欢迎 模型")
    spans = full.vad_segments(clip.samples)
    assert spans and all(0 <= b < e <= clip.duration + 1e-6 for b, e in spans)
    assert t.segments
    for seg in t.segments:  # each recognised segment lies inside a VAD span
        assert any(b - 1e-6 <= seg.start < seg.end <= e + 0.07 for b, e in spans)
    assert any(c in PUNCT for c in t.text)  # ct-punc ran on the joined text
    assert "".join(c for c in t.text if c not in PUNCT) == "".join(s.text for s in t.segments)


def test_resampled_input_and_itn_flag(full, asr_dev: Path) -> None:
    audio = read_audio(asr_dev / "wav" / "wenet_nst_dataexample_ID001_48k.wav")
    assert audio.sample_rate == 48000
    t = full.transcribe(audio, itn=True)
    assert all(s.end <= audio.duration + 0.07 for s in t.segments)


def _stream(rec: ParaformerRecognizer, clip) -> list:
    sil = np.zeros(int(1.5 * 16000), np.float32)
    signal = np.concatenate([sil, clip.samples, sil])
    stream = rec.create_stream()
    events: list = []
    for i in range(0, len(signal), 320):
        events += stream.accept_waveform(16000, signal[i : i + 320])
        if stream.is_ready:
            events += stream.decode()
    stream.input_finished()
    return events + stream.decode()


def test_streaming_partials_then_two_pass_final(full, clip) -> None:
    events = _stream(full, clip)
    types = [type(e) for e in events]
    assert types[0] is SpeechStarted and types.count(SpeechStopped) == 1
    assert types.count(FinalResult) == 1
    partials = [e for e in events if isinstance(e, PartialResult)]
    assert len(partials) >= 3 and types.index(PartialResult) < types.index(FinalResult)
    # streaming partials only grow: each extends the previous text
    for a, b in zip(partials, partials[1:], strict=False):
        assert b.text.startswith(a.text) and b.time > a.time
    final = events[types.index(FinalResult)]
    assert final.transcript.segments and final.start < final.transcript.segments[0].end
    assert final.audio.sample_rate == 16000


def test_streaming_only_model(dirs, clip) -> None:
    rec = make(dirs, streaming_model="streaming")
    events = _stream(rec, clip)
    finals = [e for e in events if isinstance(e, FinalResult)]
    partials = [e for e in events if isinstance(e, PartialResult)]
    assert len(finals) == 1 and partials
    assert finals[0].transcript.text.startswith(partials[-1].text)
    # offline transcribe falls back to the streaming model
    t = rec.transcribe(clip)
    assert t.text and t.segments[0].end == pytest.approx(clip.duration)


def test_chunk_size_is_configurable(dirs) -> None:
    pc = ParaformerConfig(streaming_model=str(dirs["streaming"]), chunk_size=(0, 8, 4))
    rec = ParaformerRecognizer(ASRConfig(paraformer=pc))
    assert rec.chunk_samples == 8 * 960


def test_factory_builds_paraformer(dirs) -> None:
    config = load_config(env={}, overrides=[f"asr.paraformer.model={dirs['paraformer']}"])
    rec = build_recognizer(config.asr, cache_root(config), "paraformer")
    assert isinstance(rec, ParaformerRecognizer)


def test_missing_models_are_clear_errors(dirs, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model configured"):
        ParaformerRecognizer(ASRConfig())
    empty = tmp_path / "no-weights"
    empty.mkdir()
    (empty / "config.yaml").write_text((dirs["paraformer"] / "config.yaml").read_text())
    with pytest.raises(ModelNotFoundError, match=r"model\.pt"):
        ParaformerRecognizer(ASRConfig(paraformer=ParaformerConfig(model=str(empty))))
    # the hub layout (configuration.json) without weights: refused, not a random model
    hub_layout = tmp_path / "seaco-no-weights"
    hub_layout.mkdir()
    for name in ("configuration.json", "config.yaml", "tokens.json", "am.mvn"):
        (hub_layout / name).write_bytes((dirs["seaco"] / name).read_bytes())
    with pytest.raises(ModelNotFoundError, match=r"no model\.pt.*random-weight"):
        ParaformerRecognizer(ASRConfig(paraformer=ParaformerConfig(model=str(hub_layout))))
    bad_vad = ParaformerConfig(model=str(dirs["paraformer"]), vad_model=str(tmp_path / "x"))
    with pytest.raises(ModelNotFoundError, match="fsmn-vad"):
        ParaformerRecognizer(ASRConfig(paraformer=bad_vad))
