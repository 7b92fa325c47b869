"""A session's bounded queue of outgoing server events, purgeable on barge-in.

Producers (recognition, reply synthesis) ``await put``; when the client reads too slowly the
queue fills and producers wait — audio is never dropped. A producer that waits longer than
``timeout_s`` gets :class:`SlowReaderError` and the session is ended with an error.
"""

from __future__ import annotations

import asyncio
from collections import deque

from tingshuo.engine.events import ServerEvent, survives_barge_in


class SlowReaderError(RuntimeError):
    """The client did not read its events in time."""


class OutboundClosedError(RuntimeError):
    """The queue was closed (the session is ending)."""


class OutboundQueue:
    """FIFO of server events with a size bound and barge-in purging."""

    def __init__(self, maxsize: int = 256, timeout_s: float = 15.0) -> None:
        self.maxsize, self.timeout_s = maxsize, timeout_s
        self._items: deque[ServerEvent] = deque()
        self._changed = asyncio.Condition()
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, event: ServerEvent, *, force: bool = False) -> None:
        """Append, waiting while full (``force``: control events that must not wait)."""
        async with self._changed:
            if self.closed:
                raise OutboundClosedError("session is closing")
            if not force:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(
                            lambda: len(self._items) < self.maxsize or self.closed
                        ),
                        self.timeout_s,
                    )
                except TimeoutError:
                    raise SlowReaderError(
                        f"client read no events for {self.timeout_s:g} s with {len(self._items)} queued"
                    ) from None
                if self.closed:
                    raise OutboundClosedError("session is closing")
            self._items.append(event)
            self._changed.notify_all()

    async def get(self) -> ServerEvent | None:
        """Next event; ``None`` once closed and drained."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self.closed)
            if not self._items:
                return None
            event = self._items.popleft()
            self._changed.notify_all()
            return event

    async def drop_reply(self, reply_id: int) -> int:
        """Remove queued events of ``reply_id`` that do not survive a barge-in."""
        async with self._changed:
            kept = deque(e for e in self._items if survives_barge_in(e, reply_id))
            dropped = len(self._items) - len(kept)
            self._items = kept
            self._changed.notify_all()
            return dropped

    async def close(self) -> None:
        """No more puts; ``get`` drains what is queued, then returns ``None``."""
        async with self._changed:
            self.closed = True
            self._changed.notify_all()
