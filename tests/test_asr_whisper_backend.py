"""The default recognizer with the real Whisper base weights on real Mandarin clips."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from tingshuo.asr.base import FinalResult, PartialResult, Recognizer, SpeechStarted, SpeechStopped
from tingshuo.asr.config import ASRConfig
from tingshuo.asr.factory import build_recognizer
from tingshuo.asr.guards import find_loop
from tingshuo.asr.textproc import character_error_rate
from tingshuo.asr.whisper_backend import WhisperRecognizer
from tingshuo.core.audio import Audio, read_audio
from tingshuo.engine.config import cache_root, load_config

pytestmark = pytest.mark.slow

# read speech, a voice command, spontaneous speech, and 24/48 kHz clips
CLIPS = (
    "firered_aishell1_BAC009S0764W0121.wav",
    "firered_aishell2_IT0011W0001.wav",
    "firered_wenetspeech_TEST_NET_Y0000000000_S00000.wav",
    "funasr_asr_example_zh.wav",
    "paddlespeech_zh.wav",
    "wenet_nst_dataexample_ID001_48k.wav",
    "cosyvoice_zero_shot_prompt.wav",
)
CER_BOUND = 0.127  # the target for the whole dev set


@pytest.fixture(scope="module")
def recognizer() -> WhisperRecognizer:
    rec = build_recognizer(ASRConfig(), cache_root(load_config(env={})), "whisper")
    assert isinstance(rec, WhisperRecognizer)
    return rec


@pytest.fixture(scope="module")
def references(asr_dev: Path) -> dict[str, str]:
    with (asr_dev / "transcripts.tsv").open(encoding="utf-8") as f:
        return {row["file"]: row["transcript"] for row in csv.DictReader(f, delimiter="\t")}


def test_is_a_recognizer(recognizer: WhisperRecognizer) -> None:
    assert isinstance(recognizer, Recognizer)
    assert recognizer.name == "whisper"


def test_dev_clips_within_cer_bound(recognizer, references, asr_dev: Path) -> None:
    hyps = []
    for name in CLIPS:
        transcript = recognizer.transcribe(read_audio(asr_dev / "wav" / name))
        assert transcript.text, name
        assert transcript.segments and transcript.segments[0].end > 0
        hyps.append(transcript.text)
    cer = character_error_rate([references[c] for c in CLIPS], hyps)
    assert cer <= CER_BOUND, (cer, hyps)


def test_output_is_simplified(recognizer, asr_dev: Path) -> None:
    text = recognizer.transcribe(
        read_audio(asr_dev / "wav" / "cosyvoice_zero_shot_prompt.wav")
    ).text
    from tingshuo.asr.textproc import to_simplified

    assert text == to_simplified(text)


def _stream_clip(recognizer, samples: np.ndarray, rate: int, as_pcm16: bool) -> list:
    silence = np.zeros(int(1.5 * rate), np.float32)
    signal = np.concatenate([silence, samples, silence])
    frame = int(0.02 * rate)
    stream = recognizer.create_stream()
    events: list = []
    for i in range(0, len(signal), frame):
        chunk = signal[i : i + frame]
        data = Audio(chunk, rate).to_pcm16() if as_pcm16 else chunk
        events += stream.accept_waveform(rate, data)
        if stream.is_ready:
            events += stream.decode()
    stream.input_finished()
    return events + stream.decode()


@pytest.mark.parametrize(
    ("clip", "as_pcm16"),
    [("funasr_asr_example_zh.wav", False), ("wenet_nst_dataexample_ID001_48k.wav", True)],
)
def test_stream_20ms_frames_one_utterance_with_partials(
    recognizer, references, asr_dev: Path, clip: str, as_pcm16: bool
) -> None:
    audio = read_audio(asr_dev / "wav" / clip)
    events = _stream_clip(recognizer, audio.samples, audio.sample_rate, as_pcm16)
    types = [type(e) for e in events]
    assert types.count(SpeechStarted) == 1 and types.count(SpeechStopped) == 1
    assert types.count(FinalResult) == 1
    final_at = types.index(FinalResult)
    assert PartialResult in types[:final_at], types
    final = events[final_at]
    # both clips have 1-1.4 s of room tone before the speech (after the 1.5 s of padding)
    assert 1.0 <= final.start < 3.0 and final.start + 1.0 < final.end <= 1.5 + audio.duration + 0.1
    cer = character_error_rate([references[clip]], [final.transcript.text])
    assert cer <= 0.25, final.transcript.text
    partials = [e for e in events if isinstance(e, PartialResult)]
    assert all(p.text for p in partials)
    # prefetch: 200 ms into the trailing silence the utterance was decoded; the hangover then
    # confirmed the endpoint with no new speech, so the final is that decode's text
    assert final.transcript.text == partials[-1].text
    assert [p.time for p in partials] == sorted(p.time for p in partials)


def _no_runaway(text: str) -> None:
    assert find_loop(text) is None, text
    assert len(text) <= 12, text  # a few stray characters at most, never a loop


def _nonspeech(kind: str) -> np.ndarray:
    rate = 16000
    t = np.arange(4 * rate) / rate
    rng = np.random.default_rng(7)
    melody = np.concatenate(
        [np.sin(2 * np.pi * f * t[: rate // 2]) for f in (262, 330, 392, 523, 392, 330, 294, 262)]
    )
    return {
        "white_noise": rng.normal(0, 0.2, len(t)),
        "pure_tone": 0.3 * np.sin(2 * np.pi * 440 * t),
        "tone_1k": 0.5 * np.sin(2 * np.pi * 1000 * t),
        "chord": 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (262, 330, 392)),
        "melody": 0.3 * melody,
    }[kind].astype(np.float32)


NONSPEECH = ["white_noise", "pure_tone", "tone_1k", "chord", "melody"]


@pytest.mark.parametrize("kind", NONSPEECH)
def test_speech_detector_gives_empty_text_for_non_speech(recognizer, kind: str) -> None:
    """Guard 1, the speech detector: no utterance in noise/tones/music, so no decode, no text."""
    signal = _nonspeech(kind)
    transcript = recognizer.transcribe(Audio(signal, 16000))
    assert transcript.text == "" and "no_speech" in transcript.flags
    events = _stream_clip(recognizer, signal, 16000, as_pcm16=False)
    assert events == []  # the stream never opens an utterance


@pytest.mark.parametrize("kind", NONSPEECH)
def test_decoder_guards_alone_give_no_runaway_text(recognizer, kind: str) -> None:
    """Guard 2, the decoder side (no-speech / log-prob / compression / loops), detector off."""
    ungated = WhisperRecognizer(
        recognizer.model_dir,
        dataclasses.replace(
            recognizer.config,
            whisper=dataclasses.replace(recognizer.config.whisper, speech_gate=False),
        ),
    )
    _no_runaway(ungated.transcribe(Audio(_nonspeech(kind), 16000)).text)


def test_speech_in_noise_still_passes_the_detector(recognizer, references, asr_dev: Path) -> None:
    clip = "paddlespeech_zh.wav"
    speech = read_audio(asr_dev / "wav" / clip, 16000).samples
    noise = np.random.default_rng(3).normal(0, 1, len(speech)).astype(np.float32)
    noise *= np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10)  # 10 dB SNR
    text = recognizer.transcribe(Audio(speech + noise, 16000)).text
    assert character_error_rate([references[clip]], [text]) <= 0.3, text


@pytest.mark.parametrize(
    ("guard", "flag"),
    [
        # faster-whisper skips such a segment itself, or our guard drops it
        ({"logprob_threshold": 0.0, "no_speech_threshold": 0.0}, None),
        ({"compression_ratio_threshold": 0.5}, "hallucination_dropped"),
    ],
)
def test_decoder_guards_act_on_real_decoder_statistics(
    recognizer, asr_dev: Path, guard: dict, flag: str | None
) -> None:
    """Guard 3: the thresholds see the real segment statistics (defaults keep real speech;
    thresholds no real segment can meet drop it)."""
    samples = read_audio(asr_dev / "wav" / "paddlespeech_zh.wav", 16000).samples
    assert recognizer.decode_samples(samples).text
    strict = WhisperRecognizer(
        recognizer.model_dir,
        dataclasses.replace(
            recognizer.config, guard=dataclasses.replace(recognizer.config.guard, **guard)
        ),
    )
    dropped = strict.decode_samples(samples)
    assert dropped.text == ""
    assert flag is None or flag in dropped.flags


def test_silence_and_tiny_input(recognizer) -> None:
    assert recognizer.transcribe(Audio(np.zeros(16000 * 2, np.float32), 16000)).text == ""
    assert recognizer.transcribe(Audio(np.zeros(10, np.float32), 16000)).text == ""


def test_ct_punc_punctuates_whisper_output(recognizer, asr_dev: Path, tmp_path: Path) -> None:
    pytest.importorskip("funasr", reason="FunASR extra not installed")
    import funasr_tiny

    from tingshuo.asr.config import ParaformerConfig
    from tingshuo.asr.funasr_models import load_punctuator

    punc = funasr_tiny.build_ct_punc(tmp_path / "punc")
    punctuated = WhisperRecognizer(
        recognizer.model_dir,
        recognizer.config,
        punctuate=load_punctuator(ParaformerConfig(punc_model=str(punc))),
    )
    audio = read_audio(asr_dev / "wav" / "paddlespeech_zh.wav")
    plain = recognizer.transcribe(audio).text
    text = punctuated.transcribe(audio).text
    marks = "，。？、"
    # ct-punc (random weights here) only inserts marks: the words are Whisper's
    assert "".join(c for c in text if c not in marks) == "".join(c for c in plain if c not in marks)


def test_transcript_carries_the_pooled_encoder_states_of_its_own_pass(
    recognizer: WhisperRecognizer, asr_dev: Path
) -> None:
    calls: list[int] = []
    original = recognizer._encode

    def counting(features):  # noqa: ANN001, ANN202
        calls.append(1)
        return original(features)

    recognizer._encode = counting
    try:
        audio = read_audio(asr_dev / "wav" / CLIPS[0]).resample(16000)
        transcript = recognizer.transcribe(audio)
    finally:
        recognizer._encode = original
    assert len(calls) == 1  # recognition ran one encoder pass (a < 30 s clip)
    enc = transcript.encoder
    assert enc is not None and enc.pooled.shape == (1024,) and np.isfinite(enc.pooled).all()
    assert 0 < enc.frames <= int(np.ceil(audio.duration / 0.02))
    again = recognizer.encoder_states(audio.samples)  # the encode-only path pools the same way
    assert again is not None and np.allclose(again.pooled, enc.pooled, atol=1e-3)


def test_partials_take_the_short_window_and_finals_the_full_one(
    recognizer, references, asr_dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partial encodes the utterance plus a margin (≥ partial_window_s), not 30 s; its text
    is close to the final's. A final still encodes the whole 30 s window."""
    name = "firered_aishell1_BAC009S0764W0121.wav"
    samples = read_audio(asr_dev / "wav" / name, 16000).samples
    frames: list[int] = []
    encode = recognizer._encode
    monkeypatch.setattr(recognizer, "_encode", lambda f: frames.append(f.shape[-1]) or encode(f))
    partial = recognizer.decode_partial(samples)
    assert frames == [1000]  # a ~4.6 s clip + 3 s margin < the 10 s minimum window
    final = recognizer.transcribe(Audio(samples, 16000))
    assert frames[1:] == [3000]
    assert character_error_rate([final.text], [partial]) < 0.2, (partial, final.text)
    assert character_error_rate([references[name]], [partial]) < 0.25, partial


def _finals(stream, signal: np.ndarray) -> list[FinalResult]:
    events: list = []
    for i in range(0, len(signal), 320):  # 20 ms frames at 16 kHz
        stream.accept_waveform(16000, signal[i : i + 320])
        if stream.is_ready:
            events += stream.decode()
    stream.input_finished()
    while stream.is_ready:
        events += stream.decode()
    return [e for e in events if isinstance(e, FinalResult)]


def test_transcription_stream_decodes_across_a_short_pause(
    recognizer, references, asr_dev: Path
) -> None:
    # two clips back to back (~0.85 s of their own silence between the sentences): a
    # dialogue stream ends a turn at the pause, the /v1/asr
    # (transcription) profile gives one final over both, as a file would be decoded
    first, second = "firered_aishell2_IT0011W0001.wav", "paddlespeech_zh.wav"
    a = read_audio(asr_dev / "wav" / first, 16000).samples
    b = read_audio(asr_dev / "wav" / second, 16000).samples
    pad = np.zeros(16000, np.float32)
    signal = np.concatenate([pad, a, b, pad])
    dialogue = _finals(recognizer.create_stream(), signal)
    transcription = _finals(recognizer.create_stream(profile="transcription"), signal)
    assert len(dialogue) == 2 and len(transcription) == 1
    ref = references[first] + references[second]
    assert character_error_rate([ref], [transcription[0].transcript.text]) <= 0.15


def test_busy_finals_take_the_short_window_only_in_dialogue_streams(
    recognizer, references, asr_dev: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the engine says the recognizer is busy, a dialogue stream's final encodes
    ≥ busy_window_s (15 s) instead of 30 s, flagged, with the final's quality bound; a
    transcription stream and an idle recognizer keep the full window."""
    name = "firered_aishell1_BAC009S0764W0121.wav"
    clip = read_audio(asr_dev / "wav" / name, 16000).samples
    signal = np.concatenate([np.zeros(16000, np.float32), clip, np.zeros(24000, np.float32)])
    frames: list[int] = []
    encode = recognizer._encode
    monkeypatch.setattr(recognizer, "_encode", lambda f: frames.append(f.shape[-1]) or encode(f))
    monkeypatch.setattr(recognizer, "busy", lambda: True)
    busy = _finals(recognizer.create_stream(), signal)
    assert len(busy) == 1 and "busy_window" in busy[0].transcript.flags
    final_frames = [n for n in frames if n != 1000]  # 1000: the partials' 10 s window
    assert final_frames and set(final_frames) == {1500}
    assert character_error_rate([references[name]], [busy[0].transcript.text]) <= 0.15
    assert busy[0].transcript.encoder is not None  # the bridge still reads this pass
    frames.clear()
    transcription = _finals(recognizer.create_stream(profile="transcription"), signal)
    assert "busy_window" not in transcription[0].transcript.flags
    assert 3000 in frames and 1500 not in frames
    monkeypatch.setattr(recognizer, "busy", lambda: False)
    frames.clear()
    idle = _finals(recognizer.create_stream(), signal)
    assert "busy_window" not in idle[0].transcript.flags and 1500 not in frames
    # the fast-turn setting: every dialogue final takes the short window, busy or not
    whisper = dataclasses.replace(recognizer.config.whisper, final_window_s=15.0)
    monkeypatch.setattr(
        recognizer, "config", dataclasses.replace(recognizer.config, whisper=whisper)
    )
    frames.clear()
    fast = _finals(recognizer.create_stream(), signal)
    assert "busy_window" in fast[0].transcript.flags and 1500 in frames


def test_batched_files_give_the_one_by_one_text(recognizer, asr_dev: Path) -> None:
    audios = [read_audio(asr_dev / "wav" / clip) for clip in CLIPS[:3]]
    audios.append(Audio(_nonspeech("white_noise"), 16000))
    batched = recognizer.transcribe_batch(audios)
    one_by_one = [recognizer.transcribe(a) for a in audios]
    assert [t.text for t in batched] == [t.text for t in one_by_one]
    assert batched[-1].text == "" and "no_speech" in batched[-1].flags
    assert all(t.encoder is not None for t in batched[:3])  # the emotion bridge's input


@pytest.mark.parametrize("kind", ["white_noise", "melody"])
def test_transcription_stream_gives_nothing_for_non_speech(recognizer, kind: str) -> None:
    stream = recognizer.create_stream(profile="transcription")
    finals = _finals(stream, _nonspeech(kind))
    assert all(not f.transcript.text for f in finals), [f.transcript.text for f in finals]
