"""Deterministic stand-ins for the recognizer and synthesizer, for Session/protocol logic tests.

They are NOT models: an energy VAD that reports speech start/stop and a scripted transcript,
and a tone "synthesizer" whose audio length follows the text. Real-model behaviour is covered
by the e2e tests (tests/e2e/), which use Whisper and Kokoro.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from typing import Any

import numpy as np

from tingshuo.asr.base import (
    FinalResult,
    PartialResult,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
    Transcript,
)
from tingshuo.core.audio import Audio, resample
from tingshuo.core.emotions import Emotion
from tingshuo.dialog.base import EmotionBridge, Reply, ReplyStyle, Turn, UserEmotion
from tingshuo.tts.base import Style, UnknownVoiceError, VoiceInfo

RATE = 16000
FRAME = 320  # 20 ms


class EnergyStream:
    """Energy VAD (RMS > 0.01 opens after 100 ms, 300 ms of quiet closes) with scripted text."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self._lock = threading.RLock()  # decode runs in a worker while audio keeps arriving
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self._t = 0.0
        self._speech = 0
        self._quiet = 0
        self._open = False
        self._utt: list[np.ndarray] = []
        self._start = 0.0
        self._pending: list[StreamEvent] = []
        self._since_partial = 0
        self._n_partial = 0
        self._ended = False

    def accept_waveform(self, sample_rate: int, samples: np.ndarray) -> list[StreamEvent]:
        with self._lock:
            return self._accept(sample_rate, samples)

    def _accept(self, sample_rate: int, samples: np.ndarray) -> list[StreamEvent]:
        self._buf = np.concatenate([self._buf, resample(samples, sample_rate, RATE)])
        events: list[StreamEvent] = []
        while len(self._buf) >= FRAME:
            frame, self._buf = self._buf[:FRAME], self._buf[FRAME:]
            self._t += FRAME / RATE
            loud = float(np.sqrt(np.mean(frame**2))) > 0.01
            if self._open:
                self._utt.append(frame)
                self._quiet = 0 if loud else self._quiet + 1
                self._since_partial += 1
                if self._since_partial >= 15:  # every 300 ms: a growing prefix of the text
                    self._since_partial = 0
                    self._n_partial += 1
                    upcoming = self.texts[0] if self.texts else "…"
                    self._pending.append(PartialResult(upcoming[: self._n_partial], self._t))
                if self._quiet >= 15:
                    self._open = False
                    events.append(SpeechStopped(self._t))
                    self._close()
            else:
                self._speech = self._speech + 1 if loud else 0
                if self._speech >= 5:
                    self._open, self._quiet, self._start = True, 0, self._t - 0.1
                    self._utt = [frame]
                    self._n_partial = 0
                    events.append(SpeechStarted(self._start))
        return events

    def _close(self) -> None:
        text = self.texts.pop(0) if self.texts else ""
        audio = Audio(np.concatenate(self._utt) if self._utt else np.zeros(1, np.float32), RATE)
        self._pending.append(FinalResult(Transcript(text), self._start, self._t, audio))
        self._utt = []

    def input_finished(self) -> None:
        with self._lock:
            self._finish()

    def _finish(self) -> None:
        if self._open:
            self._open = False
            self._close()

    @property
    def is_ready(self) -> bool:
        return bool(self._pending)

    def decode(self) -> list[StreamEvent]:
        time.sleep(0.01)
        with self._lock:
            out, self._pending = self._pending, []
        return out

    @property
    def result(self) -> str:
        return ""

    @property
    def is_endpoint(self) -> bool:
        return not self._open


class ScriptedRecognizer:
    name = "scripted"

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.streams: list[EnergyStream] = []
        self.profiles: list[str] = []  # the profile each stream was created with

    def transcribe(self, audio: Audio, *, itn: bool = False, hotwords: str = "") -> Transcript:
        return Transcript(self.texts[0] if self.texts else "")

    def create_stream(self, *, profile: str = "dialogue") -> EnergyStream:
        self.profiles.append(profile)
        stream = EnergyStream(list(self.texts))
        self.streams.append(stream)
        return stream


class ToneSynthesizer:
    """0.12 s of 440 Hz tone per character, produced in ``delay`` seconds per segment."""

    name = "tone"
    sample_rate = 24000
    model_version = "test"

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.cancelled_after = 0

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo("tone", "zh")]

    def synthesize(self, text: str, style: Style | None = None, voice: str | None = None) -> Audio:
        if voice not in (None, "tone"):
            raise UnknownVoiceError(f"unknown voice {voice}")
        if self.delay:
            time.sleep(self.delay)
        n = int(0.12 * len(text) * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        return Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), self.sample_rate)

    async def stream(
        self,
        text: str,
        style: Style | None = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        loop = asyncio.get_running_loop()
        audio = await loop.run_in_executor(executor, self.synthesize, text, style, voice)
        yield audio


def speech_like(seconds: float, rate: int = RATE, amp: float = 0.2) -> np.ndarray:
    """A loud tone burst standing in for speech."""
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(seconds * rate), np.float32)


# --- dialog doubles: a keyword text-emotion rule and an echo/knowledge reply policy ---------
# Deterministic stand-ins for the trained bridge and the KB policy in Session/protocol tests;
# never used by the engine (a bridge that fails to load fails the start-up).

_KEYWORDS: dict[Emotion, tuple[str, ...]] = {
    Emotion.ANGRY: ("生气", "气死", "投诉", "太差", "垃圾", "混蛋", "滚", "怎么回事", "搞什么"),
    Emotion.SAD: ("难过", "伤心", "哭", "失望", "遗憾", "不开心", "累"),
    Emotion.HAPPY: ("谢谢", "太好了", "开心", "高兴", "喜欢", "棒", "哈哈"),
    Emotion.FEAR: ("害怕", "担心", "恐怖", "吓"),
    Emotion.HATE: ("恶心", "讨厌", "烦死"),
    Emotion.SURPRISE: ("真的吗", "竟然", "居然", "没想到", "天哪"),
}

EMPATHY: dict[Emotion, ReplyStyle] = {
    Emotion.ANGRY: ReplyStyle(Emotion.NEUTRAL, 0.6),
    Emotion.SAD: ReplyStyle(Emotion.SAD, 0.5),
    Emotion.HAPPY: ReplyStyle(Emotion.HAPPY, 1.0),
    Emotion.FEAR: ReplyStyle(Emotion.NEUTRAL, 0.5),
    Emotion.HATE: ReplyStyle(Emotion.NEUTRAL, 0.6),
    Emotion.SURPRISE: ReplyStyle(Emotion.HAPPY, 0.6),
    Emotion.NEUTRAL: ReplyStyle(Emotion.NEUTRAL, 1.0),
}

_ANSWERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("你好", "您好", "喂"), "您好，很高兴为您服务。"),
    (("换一首歌", "换首歌", "下一首"), "好的，马上为您换一首歌。"),
    (("谢谢",), "不客气，祝您愉快。"),
    (("再见", "拜拜"), "再见，欢迎下次再来。"),
)


class KeywordEmotionBridge:
    """Text-only emotion by keyword, with a fixed empathy map."""

    def estimate(
        self, audio: Audio | None, text: str | None, *, encoder: Any = None, speaker: Any = None
    ) -> UserEmotion:
        """The first matching emotion (confidence 0.6), else neutral (0.5)."""
        if audio is None and text is None:
            raise ValueError("estimate needs audio or text")
        for emotion, words in _KEYWORDS.items():
            if text and any(w in text for w in words):
                return UserEmotion(emotion, 0.6, {emotion: 0.6, Emotion.NEUTRAL: 0.4}, "text")
        return UserEmotion(Emotion.NEUTRAL, 0.5, {Emotion.NEUTRAL: 0.5}, "text")

    def reply_style(self, user_emotion: UserEmotion) -> ReplyStyle:
        """Calm replies to anger and disgust, gentle ones to sadness, shared joy."""
        return EMPATHY[user_emotion.emotion]


class EchoKnowledgePolicy:
    """Answers a few known requests; otherwise repeats what it heard."""

    def __init__(self, bridge: EmotionBridge) -> None:
        self.bridge = bridge

    def respond(self, history: list[Turn], utterance: str, emotion: UserEmotion) -> Reply:
        """A canned answer when a keyword matches, else an echo."""
        style = self.bridge.reply_style(emotion)
        text = utterance.strip().rstrip("。！？!?.，,")
        for words, answer in _ANSWERS:
            if any(w in text for w in words):
                return Reply(answer, style, intent="known")
        if not text:
            return Reply("抱歉，我没有听清楚，请再说一遍。", style, intent="unclear")
        if emotion.emotion in (Emotion.ANGRY, Emotion.HATE):
            return Reply(f"非常抱歉给您带来不便。您说：{text}。", style, intent="apology")
        return Reply(f"您说的是：{text}。", style, intent="echo")
