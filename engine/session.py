"""The I/O driver of one conversation: recognition stream, tasks and the outbound queue.

A :class:`Session` is created on ``session.start``; what the conversation means (turns, memory,
reply style, what the user heard) is :class:`~tingshuo.dialog.conversation.Conversation`, a
socket-free state machine this driver feeds. Model calls go to the shared worker pool. Explicit
``open`` / ``reset`` / ``close``; ``close`` releases the stream, tasks and queue on every path.

Barge-in: when the VAD hears the user start speaking while a reply is being sent or played,
the reply's synthesis is cancelled, its queued audio dropped, ``reply.interrupted`` reports
sent and played milliseconds, and the conversation keeps only the part the user heard.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from typing import Any

import numpy as np

from tingshuo.asr.base import (
    FinalResult,
    PartialResult,
    RecognizerStream,
    SpeechStarted,
    SpeechStopped,
    StreamEvent,
)
from tingshuo.core.audio import Audio, StreamResampler, float_to_pcm16
from tingshuo.dialog.base import Reply, ReplyStream, Turn, UserEmotion
from tingshuo.dialog.conversation import Conversation
from tingshuo.dialog.reply_state import ActiveReply
from tingshuo.engine.events import (
    BAD_AUDIO,
    INTERNAL,
    OVERLOADED,
    AudioIn,
    ClientEvent,
    EmotionEvent,
    ErrorEvent,
    InputEnd,
    ReplyAudio,
    ReplyDone,
    ReplyInterrupted,
    ReplyPlayback,
    ReplyText,
    ReplyTextDelta,
    ServerEvent,
    SessionClose,
    SessionClosed,
    SessionStart,
    SessionStarted,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    TranscriptFinal,
    TranscriptPartial,
)
from tingshuo.engine.outbound import OutboundClosedError, OutboundQueue, SlowReaderError
from tingshuo.engine.services import Services
from tingshuo.engine.workers import OverloadedError, Priority
from tingshuo.tts.base import Style

log = logging.getLogger(__name__)


class Session:
    """State and tasks of one ``/v1/dialog`` conversation."""

    def __init__(self, services: Services, settings: SessionStart, session_id: str = "") -> None:
        self.id = session_id or uuid.uuid4().hex[:12]
        self.services = services
        self.settings = settings
        srv = services.config.server
        self.out = OutboundQueue(srv.outbound_queue, srv.slow_reader_timeout_s)
        self.conversation = Conversation(
            settings.emotion_policy,
            services.config.dialog.memory_turns,
            services.config.tts.max_segment_chars,
            services.config.dialog.first_segment_chars,
        )
        self.closed = False
        self.close_reason = ""
        self._speaker: Any = None  # the bridge's per-speaker baseline over earlier turns
        self.closed_event = asyncio.Event()
        self._stream: RecognizerStream | None = None
        self._starts: list[tuple[float, int]] = []  # (stream time, utterance id) of recent onsets
        self._rec_task: asyncio.Task[None] | None = None
        self._utterance = 0
        self._audio_ms = 0.0
        self._stopped_at: float | None = None
        # (stream seconds received so far, perf_counter on arrival) of recent audio chunks:
        # maps the recognizer's speech-end time to the wall clock (voice-to-voice timing)
        self._stream_s = 0.0
        self._arrivals: collections.deque[tuple[float, float]] = collections.deque(maxlen=500)
        self._reply_task_pending: asyncio.Task[None] | None = None
        # prosody of the utterance being prefetched, measured beside the recognizer's decode:
        # (utterance start, speech end, future of the bridge's audio-only features)
        self._prosody: tuple[float, float, asyncio.Future[Any]] | None = None

    # ---- life cycle ----
    async def open(self) -> None:
        """Create the recognition stream and announce the session."""
        self._stream = self.services.recognizer.create_stream()
        self.services.metrics.active_sessions.labels("dialog").inc()
        voice = self.settings.voice or self._default_voice()
        await self._emit(
            SessionStarted(
                self.id,
                self.settings.sample_rate_in,
                self.settings.sample_rate_out,
                voice,
                self.settings.emotion_policy,
            )
        )

    @property
    def history(self) -> list[Turn]:
        """The conversation's remembered turns, oldest first."""
        return self.conversation.history

    def _default_voice(self) -> str:
        voices = self.services.synthesizer.voices()
        return voices[0].name if voices else ""

    async def reset(self) -> None:
        """Forget the conversation: cancel the reply, drop buffered audio and history."""
        await self._cancel_reply()
        if self._stream is not None:
            self._stream.reset()
        self._stream_s = 0.0
        self._arrivals.clear()
        self.conversation.reset()
        self._speaker = None

    def _speaker_profile(self) -> Any:
        """The user's speaker baseline for the emotion bridge (made on first use), if any."""
        if self._speaker is None:
            new_speaker = getattr(self.services.bridge, "new_speaker", None)
            self._speaker = new_speaker() if new_speaker is not None else None
        return self._speaker

    async def close(self, reason: str, *, drain_reply_s: float = 0.0) -> None:
        """End the session: optionally let the reply finish, then release everything."""
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        reply_task = self._reply_task_pending
        if drain_reply_s > 0 and reply_task is not None and not reply_task.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(reply_task), drain_reply_s)
        tasks = [t for t in (self._rec_task, reply_task) if t is not None]
        current = asyncio.current_task()
        for task in tasks:
            if task is not current and not task.done():
                task.cancel()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        self.conversation.drop_reply()
        if self._stream is not None:
            self._stream.reset()
            self._stream = None
        with contextlib.suppress(OutboundClosedError):
            await self.out.put(SessionClosed(reason), force=True)
        await self.out.close()
        self.closed_event.set()
        self.services.metrics.active_sessions.labels("dialog").dec()
        log.info("session %s closed: %s", self.id, reason)

    # ---- input ----
    async def handle(self, event: ClientEvent) -> None:
        """Apply one client event."""
        if self.closed or self._stream is None:
            return
        if isinstance(event, AudioIn):
            self._audio_ms += event.duration_ms
            self._stream_s += event.duration_ms / 1000
            self._arrivals.append((self._stream_s, time.perf_counter()))
            # VAD runs here, on arrival, even while a decode is running in a worker, so
            # speech.started (and barge-in) is never delayed by model work.
            try:
                events = self._stream.accept_waveform(event.sample_rate, event.samples)
            except ValueError as exc:  # AudioFormatError
                await self._emit(ErrorEvent(BAD_AUDIO, str(exc)))
                return
            await self._guarded(self._on_stream_events(events))
            self._kick_decoder()
        elif isinstance(event, InputEnd):
            self._stream.input_finished()
            self._kick_decoder(force=True)
        elif isinstance(event, ReplyPlayback):
            self.conversation.playback(event.reply_id, event.played_ms)
        elif isinstance(event, SessionClose):
            await self.close(event.reason)

    def on_sent(self, event: ServerEvent) -> None:
        """Called by the writer after an event went out on the socket."""
        if isinstance(event, ReplyAudio):
            self.conversation.sent(event.reply_id, event.duration_ms)

    async def _emit(self, event: ServerEvent) -> None:
        await self.out.put(event)

    async def _fail(self, code: str, message: str) -> None:
        self.services.metrics.errors.labels(code).inc()
        log.warning("session %s: %s: %s", self.id, code, message)
        with contextlib.suppress(OutboundClosedError):
            await self.out.put(ErrorEvent(code, message, fatal=True), force=True)
        asyncio.get_running_loop().create_task(self.close(f"{code}: {message}"))

    async def _guarded(self, work: Awaitable[None]) -> None:
        """Run recognition-side work; a stuck reader or a model failure ends the session."""
        try:
            await work
        except (SlowReaderError, OutboundClosedError) as exc:
            if not self.closed:
                await self._fail(OVERLOADED, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("session %s: recognition failed", self.id)
            if not self.closed:
                await self._fail(INTERNAL, f"recognition failed: {exc}")

    # ---- recognition ----
    def _kick_decoder(self, force: bool = False) -> None:
        if self._stream is None or self.closed:
            return
        idle = self._rec_task is None or self._rec_task.done()
        if idle and self._stream.is_ready and (force or self._decode_worthwhile()):
            self._rec_task = asyncio.create_task(
                self._guarded(self._decode_loop()), name=f"asr-{self.id}"
            )

    def _decode_worthwhile(self) -> bool:
        """Finals (and prefetches of likely finals) always; partials only while a worker is
        free (partials are best-effort: under overload they are shed so endpoint decodes do
        not queue behind them)."""
        if self._final_due():
            return True
        pool = self.services.pool
        return pool is None or pool.pending < self.services.config.server.workers

    async def _decode_loop(self) -> None:
        while (
            self._stream is not None
            and not self.closed
            and self._stream.is_ready
            and self._decode_worthwhile()
        ):
            self._start_prosody()
            results = await self.services.run(
                "asr", self._stream.decode, priority=self._decode_priority
            )
            await self._on_stream_events(results)

    def _decode_priority(self) -> Priority:
        """An endpoint's decode (the final) runs first, partials last; asked again while the
        decode waits, so a queued partial that will now carry the final moves up."""
        return Priority.FINAL if self._final_due() else Priority.PARTIAL

    def _final_due(self) -> bool:
        """The next decode returns a final: the stream is at an endpoint, or (Whisper
        streams) it prefetches a likely final."""
        stream = self._stream
        if stream is None:
            return False
        return stream.is_endpoint or bool(getattr(stream, "prefetch_due", False))

    def _start_prosody(self) -> None:
        """When the next decode is the prefetch of a likely final, measure that audio's
        prosody on another worker meanwhile, so the emotion estimate does not wait for it."""
        measure = getattr(self.services.bridge, "measure", None)
        prefetch_audio = getattr(self._stream, "prefetch_audio", None)  # Whisper streams
        spec = prefetch_audio() if prefetch_audio is not None else None
        if measure is None or spec is None:
            return
        start, speech_end, samples = spec
        if self._prosody is not None:
            self._prosody[2].cancel()

        async def features() -> Any:
            try:
                return await self.services.run(
                    "emotion_prosody", measure, Audio(samples, 16000), priority=Priority.REPLY
                )
            except Exception:  # too short, silent …: the final path measures again  # noqa: BLE001
                return None

        self._prosody = (start, speech_end, asyncio.ensure_future(features()))

    async def _prefetched_features(self, final: FinalResult) -> Any:
        """The prosody measured beside the prefetch, if it was of this final's audio."""
        spec, self._prosody = self._prosody, None
        if spec is None:
            return None
        start, speech_end, future = spec
        if abs(start - final.start) > 1e-3 or abs(speech_end - final.end) > 0.05:
            future.cancel()
            return None
        feats = await future
        complete = getattr(self.services.bridge, "complete_features", None)
        if feats is None or complete is None:
            return None
        return complete(feats, final.transcript.encoder)

    def _wall_time_of(self, t: float) -> float | None:
        """perf_counter when the audio at stream time ``t`` arrived (None: not remembered)."""
        for end, arrived in self._arrivals:
            if end >= t - 1e-6:
                return arrived
        return None

    def _utterance_at(self, t: float) -> int:
        """Id of the utterance that started last at or before stream time ``t``."""
        ids = [uid for start, uid in self._starts if start <= t + 1e-6]
        return ids[-1] if ids else max(self._utterance, 1)

    async def _on_stream_events(self, events: list[StreamEvent]) -> None:
        for ev in events:
            if isinstance(ev, SpeechStarted):
                self._utterance += 1
                self._starts = [*self._starts[-7:], (ev.time, self._utterance)]
                await self._emit(SpeechStartedEvent(round(ev.time * 1000)))
                await self._barge_in()
            elif isinstance(ev, SpeechStopped):
                self._stopped_at = time.perf_counter()
                await self._emit(SpeechStoppedEvent(round(ev.time * 1000)))
            elif isinstance(ev, PartialResult):
                if ev.text:
                    await self._emit(TranscriptPartial(self._utterance_at(ev.time), ev.text))
            elif isinstance(ev, FinalResult):
                await self._on_final(ev)

    async def _on_final(self, final: FinalResult) -> None:
        utt = self._utterance_at(final.start)
        text = final.transcript.text.strip()
        await self._emit(
            TranscriptFinal(utt, text, round(final.start * 1000), round(final.end * 1000))
        )
        if not text:
            return
        await self._barge_in()
        await self._cancel_reply()  # a reply still thinking about the previous utterance
        now = time.perf_counter()
        # voice-to-voice counts from the end of the user's speech (the hangover is inside)
        spoke_until = self._wall_time_of(final.end)
        endpoint_at = spoke_until or self._stopped_at or now
        if spoke_until is not None:
            self.services.metrics.stage_seconds.labels("endpoint").observe(now - spoke_until)
        self._stopped_at = None
        task = asyncio.create_task(self._respond(utt, final, endpoint_at), name=f"reply-{self.id}")
        self._reply_task_pending = task

    # ---- replying ----
    async def _respond(self, utt: int, final: FinalResult, endpoint_at: float) -> None:
        svc = self.services
        text = final.transcript.text.strip()
        try:
            # the recognizer's pooled encoder states (Whisper) travel with the transcript, so the
            # bridge reads the same encoder pass; the speaker profile is this user's baseline
            features = await self._prefetched_features(final)
            if features is not None:  # prosody already measured beside the final's decode
                bridge: Any = svc.bridge  # the trained bridge (it has measure/features=)
                estimate = functools.partial(
                    bridge.estimate, features=features, speaker=self._speaker_profile()
                )
                emotion: UserEmotion = await svc.run(
                    "emotion", estimate, None, text, priority=Priority.REPLY
                )
            else:
                estimate = functools.partial(
                    svc.bridge.estimate,
                    encoder=final.transcript.encoder,
                    speaker=self._speaker_profile(),
                )
                emotion = await svc.run(
                    "emotion", estimate, final.audio, text, priority=Priority.REPLY
                )
            await self._emit(
                EmotionEvent(
                    utt,
                    str(emotion.emotion),
                    round(float(emotion.confidence), 3),
                    {str(k): round(float(v), 3) for k, v in emotion.distribution.items()},
                    emotion.source,
                    emotion.uncertain,
                )
            )
            if not self.settings.reply:
                self.conversation.listened(text, emotion)
                return
            reply = await self._reply_for(text, emotion)
            head = Reply("", reply.style, reply.intent) if isinstance(reply, ReplyStream) else reply
            state = self.conversation.start_reply(text, emotion, head, endpoint_at)
            style = state.style
            segments: AsyncGenerator[str, None]
            if isinstance(reply, ReplyStream):  # reply.text.delta as the text comes
                segments = self._streamed_segments(state, reply)
            else:
                await self._emit(
                    ReplyText(
                        state.reply_id,
                        reply.text,
                        str(style.emotion),
                        style.intensity,
                        reply.intent,
                        reply.handoff,
                    )
                )
                segments = _aiter(self.conversation.segments(state))
            await self._speak(state, segments)
            await self._emit(ReplyDone(state.reply_id, state.frames, round(state.synth_ms)))
            self.conversation.finish_reply(state)
        except asyncio.CancelledError:
            raise
        except (SlowReaderError, OutboundClosedError) as exc:
            if not self.closed:
                await self._fail(OVERLOADED, str(exc))
        except OverloadedError as exc:  # this reply is refused; the session goes on
            svc.metrics.errors.labels(OVERLOADED).inc()
            with contextlib.suppress(OutboundClosedError, SlowReaderError):
                await self._emit(ErrorEvent(OVERLOADED, str(exc)))
        except Exception as exc:
            log.exception("session %s: reply failed", self.id)
            svc.metrics.errors.labels(INTERNAL).inc()
            with contextlib.suppress(OutboundClosedError, SlowReaderError):
                await self._emit(ErrorEvent(INTERNAL, f"reply failed: {exc}"))

    async def _reply_for(self, text: str, emotion: UserEmotion) -> Reply | ReplyStream:
        """The policy's reply: a streaming policy (``streaming`` and ``respond_stream``, e.g.
        ``chat`` with ``dialog.chat.stream``) answers on the event loop — its network wait holds
        no worker — and runs its own blocking parts (the knowledge-base fallback) on the pool;
        the others answer on a worker."""
        svc = self.services
        policy: Any = svc.policy
        if getattr(policy, "streaming", False) and hasattr(policy, "respond_stream"):
            svc.admit(Priority.REPLY)  # refused like a policy job when replies are saturated

            async def offload(fn: Callable[..., Any], *args: Any) -> Any:
                return await svc.run("policy", fn, *args, priority=Priority.REPLY)

            reply: Reply | ReplyStream = await policy.respond_stream(
                self.conversation.history,
                text,
                emotion,
                offload=offload,
                first_chars=self.conversation.first_segment_chars,
                max_chars=self.conversation.max_segment_chars,
            )
            return reply
        return await svc.run(  # type: ignore[no-any-return]
            "policy",
            policy.respond,
            self.conversation.history,
            text,
            emotion,
            priority=Priority.REPLY,
        )

    async def _streamed_segments(
        self, state: ActiveReply, reply: ReplyStream
    ) -> AsyncGenerator[str, None]:
        """A streamed reply's synthesis segments as its text arrives; each delta grows the
        reply's text (history, barge-in) and goes out as ``reply.text.delta``, the whole text
        as ``reply.text`` once the stream has ended. The policy's stage time is the wait for
        its first text."""
        cutter = self.conversation.segmenter()
        t0 = time.perf_counter()
        first = True
        emotion, intensity = str(state.style.emotion), state.style.intensity
        async with aclosing(reply.deltas) as deltas:
            async for delta in deltas:
                if not delta:
                    continue
                if first:
                    first = False
                    self.services.metrics.stage_seconds.labels("policy").observe(
                        time.perf_counter() - t0
                    )
                self.conversation.extend_reply(state, delta)
                await self._emit(ReplyTextDelta(state.reply_id, delta, emotion, intensity))
                for segment in cutter.feed(delta):
                    yield segment
        # the stream has ended: the whole text (its intent and handoff are final now)
        await self._emit(
            ReplyText(state.reply_id, state.text, emotion, intensity, reply.intent, reply.handoff)
        )
        for segment in cutter.finish():
            yield segment

    async def _speak(self, state: ActiveReply, segments: AsyncGenerator[str, None]) -> None:
        """Synthesize the reply's segments as they come (a list the conversation split once,
        or a streamed reply's segments as its text arrives), each one job on the worker pool
        (a cache hit for common openings), started once the previous job has rendered and
        the segment's text exists, so the next renders while this one is sent; the output is
        resampled as one continuous stream. Cancelling stops the segment source (and the
        upstream text stream behind it) and every job started."""
        svc = self.services
        rate_out = self.settings.sample_rate_out
        frame = max(1, rate_out * svc.config.server.reply_frame_ms // 1000)
        style = Style(emotion=state.style.emotion, intensity=state.style.intensity)
        voice = self.settings.voice or None
        resampler = StreamResampler(rate_out)
        t_start = time.perf_counter()
        plan = _SynthesisPlan(lambda segment: self._synthesize(segment, style, voice))
        feeder = asyncio.create_task(plan.feed(segments), name=f"reply-text-{self.id}")
        drained = False
        try:
            while (item := await plan.next()) is not None:
                segment, job = item
                audio = await job
                drained = plan.exhausted
                state.current, state.current_start_ms = segment, state.synth_ms
                samples = resampler.feed(audio, last=drained)
                await self._send_frames(state, samples, frame, rate_out, t_start)
                state.segments.append((segment, state.current_start_ms, state.synth_ms))
                state.current = ""
            if not drained and state.segments:  # the last segment was not known as last
                await self._send_frames(state, resampler.flush(), frame, rate_out, t_start)
                text, start, _ = state.segments[-1]
                state.segments[-1] = (text, start, state.synth_ms)
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)
            await plan.close()
        svc.metrics.stage_seconds.labels("tts").observe(time.perf_counter() - t_start)

    async def _send_frames(
        self, state: ActiveReply, samples: np.ndarray, frame: int, rate: int, t_start: float
    ) -> None:
        """Queue ``samples`` as the reply's next audio frames (the first one is timed)."""
        svc = self.services
        for i in range(0, len(samples), frame):
            pcm = float_to_pcm16(samples[i : i + frame])
            if state.frames == 0:
                now = time.perf_counter()
                svc.metrics.stage_seconds.labels("tts_first").observe(now - t_start)
                svc.metrics.voice_to_voice_seconds.observe(now - state.endpoint_at)
            event = ReplyAudio(state.reply_id, state.frames, pcm, rate)
            state.frames += 1
            state.synth_ms += event.duration_ms
            await self._emit(event)

    def _synthesize(self, segment: str, style: Style, voice: str | None) -> asyncio.Future[Audio]:
        synth = self.services.synthesizer
        return asyncio.ensure_future(
            self.services.run(
                "reply_segment", synth.synthesize, segment, style, voice, priority=Priority.REPLY
            )
        )

    async def _cancel_reply(self) -> ActiveReply | None:
        state = self.conversation.drop_reply()
        task = self._reply_task_pending
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return state

    async def _barge_in(self) -> None:
        cut = self.conversation.barge_in()
        if cut is None:
            return
        await self._cancel_reply()
        await self.out.drop_reply(cut.reply.reply_id)
        self.services.metrics.barge_ins.inc()
        await self._emit(
            ReplyInterrupted(
                cut.reply.reply_id, round(cut.sent_ms), round(cut.played_ms), cut.heard_text
            )
        )


async def _aiter(items: Iterable[str]) -> AsyncGenerator[str, None]:
    for item in items:
        yield item


class _SynthesisPlan:
    """A reply's segments → synthesis jobs, in order: a segment's job starts as soon as the
    previous job has finished and the segment exists (whichever comes last).

    :meth:`feed` reads the segment source (a task of its own, so a streamed reply's text keeps
    being read while audio goes out); :meth:`next` gives (segment, job) in order and None at
    the end, or raises what the source raised; :meth:`close` cancels every job not consumed.
    """

    def __init__(self, start: Callable[[str], asyncio.Future[Audio]]) -> None:
        self._start = start
        self._waiting: collections.deque[str] = collections.deque()  # segments not started
        self._ready: collections.deque[tuple[str, asyncio.Future[Audio]]] = collections.deque()
        self._jobs: list[asyncio.Future[Audio]] = []
        self._ended = False  # the source is exhausted
        self._closed = False
        self._error: BaseException | None = None
        self._changed = asyncio.Event()

    @property
    def exhausted(self) -> bool:
        """No segment follows the ones already taken with :meth:`next`."""
        return self._ended and self._error is None and not self._waiting and not self._ready

    async def feed(self, segments: AsyncGenerator[str, None]) -> None:
        """Read every segment of the source (closing it on every path)."""
        try:
            async with aclosing(segments) as source:
                async for segment in source:
                    self._waiting.append(segment)
                    self._advance()
        except Exception as exc:  # reported to the reader by next()
            self._error = exc
        finally:
            self._ended = True
            self._changed.set()

    def _advance(self, _: object = None) -> None:
        if self._closed or not self._waiting:
            return
        if self._jobs and not self._jobs[-1].done():
            return  # the previous segment is still rendering
        segment = self._waiting.popleft()
        job = self._start(segment)
        job.add_done_callback(self._advance)
        self._jobs.append(job)
        self._ready.append((segment, job))
        self._changed.set()

    async def next(self) -> tuple[str, asyncio.Future[Audio]] | None:
        """The next (segment, synthesis job); None when the source is exhausted."""
        while True:
            if self._ready:
                return self._ready.popleft()
            if self._error is not None:
                raise self._error
            if self._ended and not self._waiting:
                return None
            self._changed.clear()
            await self._changed.wait()

    async def close(self) -> None:
        """Cancel every job still running; nothing new starts after this."""
        self._closed = True
        for job in self._jobs:
            job.cancel()  # no-op on finished ones
        await asyncio.gather(*self._jobs, return_exceptions=True)  # failures are retrieved
