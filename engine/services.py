"""The loaded models and shared machinery every session and request uses.

Built once by the server (``Services.load``), warmed before ``/readyz`` says ready, and
closed on shutdown. Recognizer and synthesizer come from their factories; the emotion
bridge and reply policy from ``dialog.factory``; any that fails to load fails the start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tingshuo.asr.base import ASR_SAMPLE_RATE, Recognizer, Transcript
from tingshuo.core.audio import Audio
from tingshuo.dialog.base import EmotionBridge, ReplyPolicy
from tingshuo.dialog.reply_state import split_reply
from tingshuo.engine.config import EngineConfig, cache_root, recognizer_config
from tingshuo.engine.metrics import Metrics
from tingshuo.engine.workers import Batcher, Priority, WorkerPool
from tingshuo.tts.base import Style, Synthesizer

log = logging.getLogger(__name__)


def _resilient(config: EngineConfig, primary: Any, metrics: Metrics, given: dict) -> Any:
    """Stream timeouts, and a circuit breaker to ``tts.fallback`` when one is configured."""
    from tingshuo.engine.circuit import resilient_synthesizer

    fallback = given.get("fallback_synthesizer")
    if fallback is None and config.tts.fallback and config.tts.fallback != config.tts.backend:
        from tingshuo.tts.factory import build_synthesizer

        fallback = build_synthesizer(
            config.tts, cache_root(config), config.tts.fallback, redis_url=config.redis_url
        )
    timeout = config.security.model_timeout_s
    return resilient_synthesizer(primary, fallback, timeout, metrics.registry)


@dataclass(frozen=True)
class TranscribeRequest:
    """One offline transcription for the batcher."""

    audio: Audio
    itn: bool = False
    hotwords: str = ""


@dataclass
class Services:
    """Models + worker pool + metrics shared by the whole server."""

    config: EngineConfig
    recognizer: Recognizer
    synthesizer: Synthesizer
    bridge: EmotionBridge
    policy: ReplyPolicy
    metrics: Metrics = field(default_factory=Metrics)
    pool: WorkerPool | None = None
    ready: bool = False
    prewarmed: int = 0  # reply openings rendered into the synthesis cache at start-up
    _batcher: Batcher[TranscribeRequest, Transcript] | None = None

    @classmethod
    def load(cls, config: EngineConfig, **given: Any) -> Services:
        """Build every stage from config (keyword arguments replace single stages)."""
        recognizer = given.get("recognizer")
        if recognizer is None:
            from tingshuo.asr.factory import build_recognizer

            recognizer = build_recognizer(recognizer_config(config), cache_root(config))
        synthesizer = given.get("synthesizer")
        if synthesizer is None:
            from tingshuo.tts.factory import build_synthesizer

            synthesizer = build_synthesizer(
                config.tts, cache_root(config), redis_url=config.redis_url
            )
        bridge, policy = given.get("bridge"), given.get("policy")
        if bridge is None:  # a missing or broken checkpoint fails the start-up (CheckpointError)
            from tingshuo.dialog.factory import build_bridge

            bridge = build_bridge(config.dialog)
        if policy is None:
            from tingshuo.dialog.factory import build_policy

            policy = build_policy(config.dialog)
        services = cls(config, recognizer, synthesizer, bridge, policy)
        services.synthesizer = _resilient(config, synthesizer, services.metrics, given)
        return services

    def start(self) -> None:
        """Create the worker pool (inside the running event loop)."""
        if self.pool is None:
            self.metrics.watch_cache(self.synthesizer)
            srv = self.config.server
            self.pool = WorkerPool(
                srv.workers,
                srv.max_pending,
                self.metrics,
                self.config.security.model_timeout_s,
                limits={Priority.INTERACTIVE: srv.max_queued_requests},
                max_wait_s=srv.max_queue_wait_s,
                max_requests=srv.max_requests_in_flight,
                reserved=srv.reserved_workers,
                low_yields=srv.low_priority_yields,
            )
            pool = self.pool
            if hasattr(self.recognizer, "busy"):  # Whisper: short-window finals under load
                # busy: a final decode besides the caller's own is running or queued
                self.recognizer.busy = lambda: pool.active(Priority.FINAL) > 1
            self._batcher = Batcher(
                self.pool,
                "transcribe",
                self._transcribe_batch,
                srv.max_batch,
                srv.max_wait_ms,
                Priority.INTERACTIVE,
            )

    def warm(self) -> None:
        """One synthesis, recognition, emotion estimate and reply, so the first user does not
        pay for lazy initialisation."""
        t0 = time.perf_counter()
        audio = self.synthesizer.synthesize("你好。")
        self.recognizer.transcribe(audio.resample(ASR_SAMPLE_RATE))
        stream = self.recognizer.create_stream()
        stream.accept_waveform(ASR_SAMPLE_RATE, np.zeros(ASR_SAMPLE_RATE // 10, dtype=np.float32))
        emotion = self.bridge.estimate(audio.resample(ASR_SAMPLE_RATE), "你好")
        self.policy.respond([], "你好", emotion)
        log.info("models warmed in %.1f s", time.perf_counter() - t0)

    def reply_openings(self) -> list[tuple[str, Style]]:
        """(first segment, style) of the replies sessions often start with (the policy's
        ``openings``), as a session would split them; ones with unfilled slots left out."""
        openings = getattr(self.policy, "openings", None)
        if openings is None:
            return []
        dc, tc = self.config.dialog, self.config.tts
        pairs = []
        for text, style in openings():
            first = split_reply(text, tc.max_segment_chars, dc.first_segment_chars)[0]
            if "{" not in first:
                pairs.append((first, Style(emotion=style.emotion, intensity=style.intensity)))
        return list(dict.fromkeys(pairs))

    async def prewarm_replies(self) -> int:
        """Render :meth:`reply_openings` with the default voice into the synthesis cache, one
        job at a time on the worker pool (background work: sessions' jobs interleave), so a
        reply's first audio is a cache hit. Returns how many were rendered; a failure stops
        the warm-up with a warning (the cache is an optimisation)."""
        if not self.config.dialog.prewarm_replies or not self.config.tts.cache.enabled:
            return 0
        t0 = time.perf_counter()
        for text, style in self.reply_openings():
            try:
                await self.run(
                    "prewarm",
                    self.synthesizer.synthesize,
                    text,
                    style,
                    None,
                    priority=Priority.BACKGROUND,
                )
            except Exception as exc:  # noqa: BLE001 - logged; sessions synthesize live
                log.warning("reply prewarm stopped after %d: %s", self.prewarmed, exc)
                break
            self.prewarmed += 1
        log.info(
            "%d reply openings in the synthesis cache (%.1f s)",
            self.prewarmed,
            time.perf_counter() - t0,
        )
        return self.prewarmed

    def _transcribe_batch(self, items: Sequence[TranscribeRequest]) -> list[Transcript]:
        batch_fn = getattr(self.recognizer, "transcribe_batch", None)
        if batch_fn is not None and len(items) > 1 and not any(i.hotwords or i.itn for i in items):
            return list(batch_fn([i.audio for i in items]))
        return [self.recognizer.transcribe(i.audio, itn=i.itn, hotwords=i.hotwords) for i in items]

    async def transcribe(
        self, audio: Audio, *, itn: bool = False, hotwords: str = ""
    ) -> Transcript:
        """Offline recognition through the batching consumer."""
        self.start()
        assert self._batcher is not None
        return await self._batcher.submit(TranscribeRequest(audio, itn, hotwords))

    async def run(
        self,
        stage: str,
        fn: Any,
        *args: Any,
        priority: Priority | Callable[[], Priority] = Priority.INTERACTIVE,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """A blocking model call on the scheduler, in class ``priority``.

        ``priority`` may be a callable, asked again while the job waits (a queued partial
        decode whose stream reaches its endpoint moves up to FINAL). A REPLY job is refused with :class:`~engine.workers.OverloadedError` when that class
        is saturated (the session reports ``overloaded`` and goes on); other classes are
        admitted at the edge (:meth:`admit`) or always run. ``deadline``
        (``time.monotonic()``): the job is dropped if it has not started by then.
        """
        self.start()
        assert self.pool is not None
        if priority == Priority.REPLY:
            self.pool.admit(priority)
        return await self.pool.run(stage, fn, *args, priority=priority, deadline=deadline, **kwargs)

    def admit(self, priority: Priority = Priority.INTERACTIVE) -> None:
        """Raise :class:`~engine.workers.OverloadedError` when new work of ``priority``
        should be refused (admission control of the HTTP routes)."""
        self.start()
        assert self.pool is not None
        try:
            self.pool.admit(priority)
        finally:
            self.metrics.saturated.set(1 if self.pool.saturated(Priority.INTERACTIVE) else 0)

    def executor(self, stage: str, priority: Priority, deadline: float | None = None) -> Any:
        """An executor whose jobs go through the scheduler (e.g. for ``Synthesizer.stream``:
        each segment one job, so nothing bypasses the priorities)."""
        self.start()
        assert self.pool is not None
        return self.pool.executor_for(stage, priority, deadline)

    def request_deadline(self) -> float | None:
        """The ``time.monotonic()`` by which a new HTTP request's model work must have
        started (``server.request_timeout_s``; None: no deadline)."""
        timeout = self.config.server.request_timeout_s
        return time.monotonic() + timeout if timeout > 0 else None

    def load_report(self) -> dict[str, Any]:
        """The scheduler's state for ``/readyz``: saturation, queued jobs per class, running."""
        self.start()
        pool = self.pool
        assert pool is not None
        saturated = pool.saturated(Priority.INTERACTIVE)
        self.metrics.saturated.set(1 if saturated else 0)
        return {
            "saturated": saturated,
            "queue": {
                "waiting": {p.name.lower(): pool.waiting(p) for p in Priority},
                "running": pool.running,
                "workers": pool.workers,
                "requests_in_flight": pool.requests,
                "estimated_wait_s": round(pool.estimated_wait_s(Priority.INTERACTIVE), 2),
            },
        }

    async def close(self) -> None:
        """Stop the batcher and the worker threads; close the policy's connections."""
        aclose = getattr(self.policy, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception as exc:  # noqa: BLE001 - shutting down anyway
                log.warning("closing the reply policy failed: %s", exc)
        if self._batcher is not None:
            await self._batcher.close()
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
