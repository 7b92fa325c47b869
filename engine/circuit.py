"""A circuit breaker, and a synthesizer that falls back to a second backend through one.

The breaker follows the classic three-state pattern (Nygard, *Release It!*, 2007):

* **closed** — calls go to the primary; ``failure_threshold`` consecutive failures open it;
* **open** — calls go straight to the fallback for ``reset_timeout_s``;
* **half-open** — after that, one call probes the primary: success closes the circuit
  (the primary has recovered), failure opens it again for another ``reset_timeout_s``.

Every transition is logged (``tingshuo.circuit``) and counted in Prometheus
(``tingshuo_circuit_transitions_total{name, state}``; the current state is the gauge
``tingshuo_circuit_state{name}``: 0 closed, 1 half-open, 2 open; calls served by the
fallback are ``tingshuo_circuit_fallback_calls_total{name}``).

:class:`FallbackSynthesizer` wraps the configured ``tts.backend`` and ``tts.fallback``
synthesizers. Client mistakes (an unknown voice, bad SSML, an invalid style) are not backend
failures: they propagate and do not move the breaker. The audio returned carries its own
``sample_rate``, which is the fallback's while the circuit is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from enum import Enum
from functools import cache
from typing import Any

from tingshuo.core.audio import Audio
from tingshuo.engine.workers import DeadlineExceededError

log = logging.getLogger("tingshuo.circuit")


class CircuitState(Enum):
    """Breaker states; the value is the metric gauge's reading."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@cache
def _metrics(registry: Any = None) -> tuple[Any, Any, Any]:
    """Prometheus metrics in ``registry`` (default: the global one), created on first use."""
    from prometheus_client import REGISTRY, Counter, Gauge

    r = registry if registry is not None else REGISTRY
    return (
        Gauge(
            "tingshuo_circuit_state",
            "Circuit state: 0 closed, 1 half-open, 2 open",
            ["name"],
            registry=r,
        ),
        Counter(
            "tingshuo_circuit_transitions_total",
            "Circuit state changes",
            ["name", "state"],
            registry=r,
        ),
        Counter(
            "tingshuo_circuit_fallback_calls_total",
            "Calls served by the fallback",
            ["name"],
            registry=r,
        ),
    )


class CircuitBreaker:
    """Decides whether the primary may be tried, from the outcomes reported to it."""

    def __init__(
        self,
        name: str,
        failure_threshold: int = 3,
        reset_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        registry: Any = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._metrics = _metrics(registry)
        self._metrics[0].labels(name).set(CircuitState.CLOSED.value)

    @property
    def state(self) -> CircuitState:
        """The current state (an open circuit whose timeout passed reads as half-open)."""
        with self._lock:
            if (
                self._state is CircuitState.OPEN
                and self._clock() - self._opened_at >= self.reset_timeout_s
            ):
                return CircuitState.HALF_OPEN
            return self._state

    def _move(self, state: CircuitState, why: str) -> None:
        if state is self._state:
            return
        self._state = state
        gauge, transitions, _ = self._metrics
        gauge.labels(self.name).set(state.value)
        transitions.labels(self.name, state.name.lower()).inc()
        level = logging.INFO if state is CircuitState.CLOSED else logging.WARNING
        log.log(level, "circuit %s -> %s (%s)", self.name, state.name.lower(), why)

    def allow(self) -> bool:
        """True when the primary should be tried now (closed, or the one half-open probe)."""
        with self._lock:
            if self._state is CircuitState.CLOSED:
                return True
            if self._state is CircuitState.OPEN:
                if self._clock() - self._opened_at < self.reset_timeout_s:
                    return False
                self._move(CircuitState.HALF_OPEN, "reset timeout passed; probing primary")
            if self._probing:
                return False  # one probe at a time
            self._probing = True
            return True

    def record_success(self) -> None:
        """The primary worked."""
        with self._lock:
            self._failures = 0
            self._probing = False
            self._move(CircuitState.CLOSED, "primary recovered")

    def record_failure(self, error: BaseException | None = None) -> None:
        """The primary failed (raised or timed out)."""
        with self._lock:
            self._probing = False
            self._failures += 1
            if self._state is CircuitState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
                self._move(
                    CircuitState.OPEN,
                    f"{self._failures} failure(s), last: {type(error).__name__ if error else '?'}",
                )

    def cancel_probe(self) -> None:
        """A call to the primary ended with no verdict (cancelled): free the probe slot."""
        with self._lock:
            self._probing = False

    def note_fallback(self) -> None:
        """Count one call served by the fallback."""
        self._metrics[2].labels(self.name).inc()


def _client_errors() -> tuple[type[BaseException], ...]:
    from tingshuo.tts.base import SSMLError, UnknownVoiceError

    return (UnknownVoiceError, SSMLError)


class FallbackSynthesizer:
    """A :class:`tts.base.Synthesizer` that uses ``fallback`` while ``primary`` is failing."""

    def __init__(self, primary: Any, fallback: Any, breaker: CircuitBreaker | None = None) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker or CircuitBreaker(f"tts.{primary.name}")
        self.name = primary.name
        self.sample_rate = primary.sample_rate
        self.model_version = f"{primary.model_version}|fallback:{fallback.name}"

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.primary, attr)  # e.g. ``cache`` for the metrics

    def voices(self) -> list[Any]:
        """The primary's voices (the fallback uses its default voice for unknown names)."""
        return self.primary.voices()

    def _fallback_synthesize(self, text: str, style: Any, voice: str | None) -> Audio:
        self.breaker.note_fallback()
        try:
            return self.fallback.synthesize(text, style, voice)
        except _client_errors()[0]:
            return self.fallback.synthesize(text, style, None)

    def synthesize(self, text: str, style: Any = None, voice: str | None = None) -> Audio:
        """Synthesize with the primary when the circuit allows, else (or on failure) the fallback."""
        if self.breaker.allow():
            try:
                audio = self.primary.synthesize(text, style, voice)
            except _client_errors():
                self.breaker.record_success()  # the backend answered; the request was bad
                raise
            except DeadlineExceededError:
                self.breaker.cancel_probe()
                raise
            except Exception as exc:
                self.breaker.record_failure(exc)
                log.warning("primary synthesizer %s failed: %r; using fallback", self.name, exc)
            else:
                self.breaker.record_success()
                return audio
        return self._fallback_synthesize(text, style, voice)

    async def stream(
        self,
        text: str,
        style: Any = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        """Stream from the primary; if it fails before its first chunk, from the fallback.

        A failure after audio has been sent is re-raised (switching voices mid-reply would
        repeat or garble speech); it still counts against the primary.
        """
        if self.breaker.allow():
            sent = False
            try:
                async for chunk in self.primary.stream(text, style, voice, executor):
                    sent = True
                    yield chunk
            except _client_errors():
                self.breaker.record_success()
                raise
            except DeadlineExceededError:  # the request's deadline, not the backend's fault
                self.breaker.cancel_probe()
                raise
            except Exception as exc:
                self.breaker.record_failure(exc)
                if sent:
                    raise
                log.warning("primary synthesizer %s failed: %r; using fallback", self.name, exc)
            except BaseException:  # cancelled (barge-in) or closed early: no verdict
                self.breaker.cancel_probe()
                raise
            else:
                self.breaker.record_success()
                return
        self.breaker.note_fallback()
        try:
            async for chunk in self.fallback.stream(text, style, voice, executor):
                yield chunk
        except _client_errors()[0]:
            async for chunk in self.fallback.stream(text, style, None, executor):
                yield chunk


class StageTimeoutError(TimeoutError):
    """A model call that took longer than its timeout (the call is abandoned)."""


async def with_timeout(
    chunks: AsyncIterator[Audio], timeout_s: float, what: str
) -> AsyncIterator[Audio]:
    """Re-yield ``chunks``, raising :class:`StageTimeoutError` when one takes over ``timeout_s``.

    The inner iterator is closed on every exit, so its executor work is cancelled where it can
    be (a thread already running a model call finishes in the background).
    """
    iterator = chunks.__aiter__()
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(iterator.__anext__(), timeout_s)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise StageTimeoutError(f"{what} produced nothing for {timeout_s:g} s") from None
            yield chunk
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


class TimeoutSynthesizer:
    """A synthesizer whose ``stream`` fails with :class:`StageTimeoutError` instead of hanging.

    ``synthesize`` is blocking and runs on the worker pool, whose own timeout
    (``security.model_timeout_s``) covers it.
    """

    def __init__(self, inner: Any, timeout_s: float) -> None:
        self.inner = inner
        self.timeout_s = timeout_s
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.model_version = inner.model_version

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.inner, attr)

    def voices(self) -> list[Any]:
        """The wrapped synthesizer's voices."""
        return self.inner.voices()

    def synthesize(self, text: str, style: Any = None, voice: str | None = None) -> Audio:
        """The wrapped synthesizer's blocking synthesis."""
        return self.inner.synthesize(text, style, voice)

    def stream(
        self,
        text: str,
        style: Any = None,
        voice: str | None = None,
        executor: Executor | None = None,
    ) -> AsyncIterator[Audio]:
        """The wrapped stream, each chunk bounded by ``timeout_s``."""
        inner = self.inner.stream(text, style, voice, executor)
        return with_timeout(inner, self.timeout_s, f"synthesizer {self.name}")


def resilient_synthesizer(
    primary: Any, fallback: Any | None, timeout_s: float, registry: Any = None
) -> Any:
    """``primary`` with stream timeouts, behind a circuit breaker to ``fallback`` when given.

    This is what the server builds from ``tts.backend``, ``tts.fallback`` and
    ``security.model_timeout_s``; breaker metrics go to ``registry`` (the engine's own).
    """
    wrap = (lambda s: TimeoutSynthesizer(s, timeout_s)) if timeout_s > 0 else (lambda s: s)
    if fallback is None:
        return wrap(primary)
    breaker = CircuitBreaker(f"tts.{primary.name}", registry=registry)
    return FallbackSynthesizer(wrap(primary), wrap(fallback), breaker)
