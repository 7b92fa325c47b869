"""Outbound queue: order, bound with waiting, barge-in purge, close."""

from __future__ import annotations

import asyncio

import pytest

from tingshuo.engine.events import ReplyAudio, ReplyText, TranscriptFinal
from tingshuo.engine.outbound import OutboundClosedError, OutboundQueue, SlowReaderError


def test_bounded_put_waits_for_the_reader_then_times_out() -> None:
    async def main() -> None:
        q = OutboundQueue(maxsize=2, timeout_s=0.2)
        await q.put(TranscriptFinal(1, "a", 0, 1))
        await q.put(TranscriptFinal(2, "b", 0, 1))

        async def read_later() -> None:
            await asyncio.sleep(0.05)
            await q.get()

        reader = asyncio.create_task(read_later())
        await q.put(TranscriptFinal(3, "c", 0, 1))  # waits, then fits
        await reader
        with pytest.raises(SlowReaderError):
            await q.put(TranscriptFinal(4, "d", 0, 1))
        await q.put(TranscriptFinal(5, "forced", 0, 1), force=True)
        assert [e.utterance_id for e in [await q.get() for _ in range(3)]] == [2, 3, 5]

    asyncio.run(main())


def test_drop_reply_keeps_surviving_events_and_close_drains() -> None:
    async def main() -> None:
        q = OutboundQueue()
        await q.put(ReplyText(1, "x", "neutral"))
        await q.put(ReplyAudio(1, 0, b"\0\0"))
        await q.put(TranscriptFinal(2, "y", 0, 1))
        await q.put(ReplyAudio(2, 0, b"\0\0"))
        assert await q.drop_reply(1) == 2
        await q.close()
        with pytest.raises(OutboundClosedError):
            await q.put(TranscriptFinal(3, "z", 0, 1))
        got = [await q.get(), await q.get(), await q.get()]
        assert isinstance(got[0], TranscriptFinal) and got[1].reply_id == 2 and got[2] is None

    asyncio.run(main())
