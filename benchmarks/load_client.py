"""One simulated ``/v1/dialog`` client for benchmarks/load.py: real speech at real-time pace.

A session: connect, ``session.start``, stream a clip as 20 ms PCM16 frames paced by the
clock (``speed`` > 1 streams faster than real time), keep streaming silence as a live
microphone would until the reply is done (or ``reply_timeout_s``), then ``session.close``.

Measured per session (times in ms):

* ``v2v_ms`` — voice-to-voice latency of the reply that completed (``reply.done``): from the
  moment the client sent the end of that utterance (``transcript.final.end_ms`` on the
  client's own send clock) to the first reply-audio frame of that reply. It includes
  endpointing, recognition, emotion, the reply policy and synthesis of the first segment, as
  a user hears it.
* ``final_ms`` — end of that utterance to its ``transcript.final``.
* ``connect_ms`` — WebSocket open to ``session.started``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FRAME_MS = 20
RATE = 16000
FRAME_SAMPLES = RATE * FRAME_MS // 1000


@dataclass
class Clip:
    """A speech clip as PCM16 frames."""

    name: str
    frames: list[bytes]

    @property
    def seconds(self) -> float:
        return len(self.frames) * FRAME_MS / 1000


def load_clips(folder: Path, max_seconds: float = 8.0) -> list[Clip]:
    """The clips of ``folder`` (e.g. ../shared/eval/asr-dev/wav) at 16 kHz, split into frames."""
    from tingshuo.core.audio import read_audio

    clips = []
    for path in sorted(folder.glob("*.wav")):
        audio = read_audio(path, RATE)
        samples = audio.samples[: int(max_seconds * RATE)]
        pcm = audio.__class__(samples, RATE).to_pcm16()
        step = FRAME_SAMPLES * 2
        frames = [pcm[i : i + step] for i in range(0, len(pcm) - step + 1, step)]
        if frames:
            clips.append(Clip(path.stem, frames))
    if not clips:
        raise FileNotFoundError(f"no .wav clips in {folder}")
    return clips


@dataclass
class SessionResult:
    """What one session measured."""

    client: int
    clip: str
    started: float  # wall clock (time.time) at connect
    clip_s: float
    ok: bool = False
    error: str = ""
    connect_ms: float = float("nan")
    final_ms: float = float("nan")
    v2v_ms: float = float("nan")
    reply_ms: float = float("nan")  # end of speech to reply.done
    reply_frames: int = 0
    transcript: str = ""
    events: list[str] = field(default_factory=list, repr=False)


async def run_session(
    url: str,
    clip: Clip,
    client: int = 0,
    credential: str = "",
    speed: float = 1.0,
    reply_timeout_s: float = 30.0,
    connect_timeout_s: float = 15.0,
) -> SessionResult:
    """Run one dialogue session and measure it; never raises (errors go in the result)."""
    from websockets.asyncio.client import connect

    from tingshuo.engine.events import (
        ErrorEvent,
        ReplyAudio,
        ReplyDone,
        ReplyText,
        ReplyTextDelta,
        SessionStart,
        SessionStarted,
        TranscriptFinal,
    )
    from tingshuo.engine.protocol.dialog import DialogClientProtocol

    result = SessionResult(client, clip.name, time.time(), clip.seconds)
    proto = DialogClientProtocol()
    silence = bytes(FRAME_SAMPLES * 2)
    frame_s = FRAME_MS / 1000 / speed
    t_open = time.perf_counter()
    t0 = 0.0  # send clock: audio up to position x s left the client at t0 + x / speed - frame_s
    utterance_end: float | None = None  # send time of the latest final's end
    final_at: dict[int, float] = {}
    first_audio: dict[int, float] = {}  # reply id -> v2v ms
    ends: dict[int, tuple[float, float]] = {}  # reply id -> (utterance end, final latency)
    done = asyncio.Event()
    try:
        async with connect(
            url, max_size=None, open_timeout=connect_timeout_s, close_timeout=5
        ) as ws:
            await ws.send(proto.session_start(SessionStart(token=credential, sample_rate_in=RATE)))
            first = proto.parse(await asyncio.wait_for(ws.recv(), connect_timeout_s))
            if not isinstance(first, SessionStarted):
                result.error = f"expected session.started, got {first}"
                return result
            result.connect_ms = (time.perf_counter() - t_open) * 1000

            async def receive() -> None:
                nonlocal utterance_end
                async for message in ws:
                    event = proto.parse(message)
                    now = time.perf_counter()
                    if isinstance(event, ReplyAudio):
                        result.reply_frames += 1
                        rid = event.reply_id
                        if rid not in first_audio and rid in ends:
                            first_audio[rid] = (now - ends[rid][0]) * 1000
                        continue
                    result.events.append(type(event).__name__)
                    if isinstance(event, TranscriptFinal) and event.text:
                        # frame i (audio up to (i+1) x 20 ms) leaves at t0 + i x frame_s
                        utterance_end = t0 + event.end_ms / 1000 / speed - frame_s
                        final_at[event.utterance_id] = (now - utterance_end) * 1000
                        result.transcript += event.text
                    elif (
                        isinstance(event, ReplyText | ReplyTextDelta)
                        and utterance_end is not None
                        and event.reply_id not in ends  # a streamed reply's text comes first
                    ):
                        ends[event.reply_id] = (utterance_end, list(final_at.values())[-1])
                    elif isinstance(event, ReplyDone):
                        if event.reply_id in first_audio:
                            result.v2v_ms = first_audio[event.reply_id]
                            end, result.final_ms = ends[event.reply_id]
                            result.reply_ms = (now - end) * 1000
                        done.set()
                    elif isinstance(event, ErrorEvent):
                        result.error = f"{event.code}: {event.message}"
                        done.set()

            receiver = asyncio.create_task(receive())
            try:
                t0 = time.perf_counter()
                for i, frame in enumerate(clip.frames):
                    await _sleep_until(t0 + i * frame_s)
                    await ws.send(frame)
                # Keep the microphone open (silence) until the reply is done.
                i = len(clip.frames)
                deadline = time.perf_counter() + reply_timeout_s
                while not done.is_set() and not receiver.done():
                    if time.perf_counter() > deadline:
                        result.error = result.error or f"no reply.done within {reply_timeout_s} s"
                        break
                    await _sleep_until(t0 + i * frame_s)
                    await ws.send(silence)
                    i += 1
                await ws.send(proto.close())
            finally:
                receiver.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receiver
    except Exception as exc:  # connection refused, closed by server, protocol error...
        result.error = result.error or f"{type(exc).__name__}: {exc}"
    result.ok = not result.error and result.reply_frames > 0 and result.v2v_ms == result.v2v_ms
    if not result.ok and not result.error:
        result.error = "no measured reply"
    return result


async def _sleep_until(t: float) -> None:
    delay = t - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


def summarize(results: list[SessionResult]) -> dict[str, float]:
    """Counts and latency percentiles of a batch of sessions."""
    ok = [r for r in results if r.ok]
    v2v = np.array([r.v2v_ms for r in ok if r.v2v_ms == r.v2v_ms])
    final = np.array([r.final_ms for r in ok if r.final_ms == r.final_ms])

    def pct(a: np.ndarray, q: float) -> float:
        return float(np.percentile(a, q)) if a.size else float("nan")

    return {
        "sessions": len(results),
        "errors": len(results) - len(ok),
        "v2v_p50_ms": pct(v2v, 50),
        "v2v_p95_ms": pct(v2v, 95),
        "v2v_max_ms": float(v2v.max()) if v2v.size else float("nan"),
        "final_p50_ms": pct(final, 50),
        "final_p95_ms": pct(final, 95),
    }


def result_row(r: SessionResult) -> dict[str, object]:
    """A CSV row for one session."""
    return {
        "started": round(r.started, 3),
        "client": r.client,
        "clip": r.clip,
        "clip_s": round(r.clip_s, 2),
        "ok": int(r.ok),
        "connect_ms": round(r.connect_ms, 1),
        "final_ms": round(r.final_ms, 1),
        "v2v_ms": round(r.v2v_ms, 1),
        "reply_ms": round(r.reply_ms, 1),
        "reply_frames": r.reply_frames,
        "error": r.error[:200],
        "transcript": json.dumps(r.transcript, ensure_ascii=False),
    }
