"""Streamed vs whole chat replies: time from the final transcript to the first reply audio.

    python benchmarks/chat_stream.py [--reps 5] [--tokens 40] [--token-ms 30]

A local OpenAI-compatible server (tests/chat_sse_server.py, 127.0.0.1) generates a fixed
reply as ``--tokens`` tokens, one every ``--token-ms`` ms: streamed as server-sent events
(``dialog.chat.stream = true``) or answered whole once all tokens are "generated" (false).
The session runs the real ChatPolicy/ChatBackend and the real Kokoro synthesizer (synthesis
cache off, weights from the model cache); recognizer and emotion bridge are the test doubles
(the transcript is scripted, so the turn's text is the same every time). The two modes are
interleaved (A B B A …) on one warm worker pool; the figures are medians, with ``uptime``
before and after, since absolute times depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chat_sse_server import FakeChatServer  # noqa: E402
from tests.engine_doubles import (  # noqa: E402
    KeywordEmotionBridge,
    ScriptedRecognizer,
    silence,
    speech_like,
)
from tingshuo.dialog.chat_backend import ChatBackend  # noqa: E402
from tingshuo.dialog.policy import ChatPolicy, EchoPolicy  # noqa: E402
from tingshuo.engine.config import cache_root, load_config  # noqa: E402
from tingshuo.engine.events import (  # noqa: E402
    AudioIn,
    ReplyAudio,
    ReplyDone,
    SessionStart,
    TranscriptFinal,
)
from tingshuo.engine.services import Services  # noqa: E402
from tingshuo.engine.session import Session  # noqa: E402

REPLY = (
    "好的，我来帮您查一下这个订单的物流情况。根据系统记录，您的包裹已经从仓库发出，"
    "预计明天下午送到您手上。如果还有其他问题，请随时告诉我，我会尽快为您处理，谢谢您的耐心。"
)
RATE = 16000


def tokens_of(text: str, n: int) -> list[str]:
    """``text`` in ``n`` consecutive pieces of (nearly) equal length."""
    cuts = [round(i * len(text) / n) for i in range(n + 1)]
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


async def one_turn(services: Services) -> tuple[float, float, float]:
    """(final transcript → first reply audio, → reply done, longest playback stall) in
    seconds, one fresh session. A stall: a frame arriving after the audio before it would
    have finished playing in real time from the first frame on (the client runs dry)."""
    session = Session(services, SessionStart(sample_rate_out=24000))
    seen: dict[str, float] = {}
    frames: list[tuple[float, float]] = []  # arrival, duration (s)

    async def read() -> None:
        while (ev := await session.out.get()) is not None:
            now = time.perf_counter()
            if isinstance(ev, ReplyAudio):
                session.on_sent(ev)
                seen.setdefault("audio", now)
                frames.append((now, ev.duration_ms / 1000))
            elif isinstance(ev, TranscriptFinal):
                seen.setdefault("final", now)
            elif isinstance(ev, ReplyDone):
                seen.setdefault("done", now)

    reader = asyncio.create_task(read())
    await session.open()
    for samples in (silence(0.3), speech_like(1.0), silence(0.7)):
        for i in range(0, len(samples), 320):
            await session.handle(AudioIn(samples[i : i + 320], RATE))
    while "done" not in seen:
        await asyncio.sleep(0.005)
    await session.close("benchmark")
    await reader
    stall, due = 0.0, frames[0][0]  # due: when the audio so far ends playing
    for arrived, duration in frames:
        stall = max(stall, arrived - due)
        due = max(due, arrived) + duration
    return seen["audio"] - seen["final"], seen["done"] - seen["final"], stall


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--token-ms", type=float, default=30.0)
    args = ap.parse_args()

    from tingshuo.tts.factory import build_synthesizer

    config = load_config(overrides=["tts.cache.enabled=false", "server.warmup=false"])
    synth = build_synthesizer(config.tts, cache_root(config), "kokoro")
    synth.synthesize("你好。")  # load the model before timing
    server = FakeChatServer(tokens_of(REPLY, args.tokens), delay_s=args.token_ms / 1000)
    policy = ChatPolicy(ChatBackend(server.url, "stream", timeout_s=10), EchoPolicy(), stream=True)
    bridge = KeywordEmotionBridge()
    services = Services(config, ScriptedRecognizer([]), synth, bridge, policy)
    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    load_before = uptime()
    try:
        for rep in range(args.reps + 1):  # rep 0 warms both paths and is not counted
            for streaming in (True, False) if rep % 2 else (False, True):
                policy.streaming = streaming
                services.recognizer = ScriptedRecognizer(["帮我查一下订单的物流"])
                turn = await one_turn(services)
                if rep:
                    results[streaming].append(turn)
    finally:
        await services.close()
        server.close()
    load_after = uptime()

    def med(streaming: bool, k: int) -> float:
        return statistics.median(r[k] for r in results[streaming])

    print(f"chat reply: {len(REPLY)} characters as {args.tokens} tokens, {args.token_ms:g} ms each")
    print(f"load before: {load_before}")
    print(f"load after:  {load_after}")
    print(f"reps per mode: {args.reps} (interleaved), medians in seconds")
    print("| mode | final transcript → first audio | → reply done | longest playback stall |")
    print("|---|---|---|---|")
    for streaming in (False, True):
        name = "streamed (dialog.chat.stream = true)" if streaming else "whole (stream = false)"
        row = " | ".join(f"{med(streaming, k):.3f}" for k in range(3))
        print(f"| {name} | {row} |")
    print(
        f"first audio, whole / streamed: {med(False, 0) / med(True, 0):.2f}×; "
        f"per rep: "
        + ", ".join(
            f"{w[0] / s[0]:.2f}" for w, s in zip(results[False], results[True], strict=True)
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
