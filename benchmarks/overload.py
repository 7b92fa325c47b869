"""Overload scenarios of issue 16: a 5,000-character synthesis beside live dialogue sessions,
and the first byte of a streamed ``/v1/audio/speech``.

long-text — ``--clients`` dialogue sessions (real asr-dev clips at real-time pace, as
  benchmarks/load.py) run for ``--phase-s`` seconds alone, then again while one client POSTs
  a ``--chars``-character text to ``/api/synthesize`` (``format: wav``, streamed). Reports the
  sessions' voice-to-voice p50/p95 alone and beside the long request (and their ratio), the
  long request's outcome (HTTP status, first byte, bytes; never a 500), and — with
  ``--disconnect-after-s`` — that no model work continues once its client is gone: the
  server's count of synthesized segments (``tingshuo_stage_seconds_count{stage="synthesize"}``)
  at the disconnect and once no HTTP job runs or waits (+ ``--settle-s``); only the segments
  running at the disconnect (``tingshuo_running{priority="interactive"}``) may finish.

first-byte — ``--repeats`` POSTs of a ``--chars``-character text (300 by default) to
  ``/v1/audio/speech`` (streamed mp3, OpenAI's default): time to the first body byte and to
  the last, each on an idle server.

The server is spawned here (``python -m tingshuo.engine.cli serve``) or reached at ``--url``.
Results go to ``--out`` as JSON. Examples (quiet machine, under the shared benchmark lock):

    flock /work/bench.lock python benchmarks/overload.py long-text --clients 2 --phase-s 120
    flock /work/bench.lock python benchmarks/overload.py long-text --clients 2 --phase-s 120 \\
        --disconnect-after-s 20
    flock /work/bench.lock python benchmarks/overload.py first-byte --chars 300 --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import Server, _client_loop  # noqa: E402
from load_client import load_clips, summarize  # noqa: E402

# Plain service-desk prose, repeated to the requested length (the content does not matter;
# its length does: 5,000 characters is the documented limit of one synthesis request).
PROSE = (
    "您好，欢迎致电客户服务中心。关于您咨询的订单问题，我们已经为您查询到最新的物流信息，"
    "包裹目前正在运输途中，预计将在三个工作日内送达。如果您在收货时发现商品有任何损坏，"
    "请在签收后四十八小时内联系我们，我们会尽快为您安排退换货服务。另外，本月会员积分活动"
    "正在进行中，消费满两百元即可获得双倍积分，积分可以在下次购物时抵扣现金。感谢您的耐心等待，"
    "祝您生活愉快。"
)


def text_of(chars: int, start: int = 0) -> str:
    """``chars`` characters of :data:`PROSE`, repeated, from character ``start`` (a different
    ``start`` per run, so no run is answered from the synthesis cache)."""
    start %= len(PROSE)
    return (PROSE * (chars // len(PROSE) + 2))[start : start + chars]


def scrape(base: str) -> str:
    """The server's metrics text."""
    import httpx

    return httpx.get(base + "/metrics", timeout=10).text


def metric(text: str, name: str, labels: str = "") -> float:
    """One sample of ``name{labels}`` from a metrics text (0 when absent)."""
    key = re.escape(f"{name}{{{labels}}}" if labels else name)
    m = re.search(rf"^{key} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def segments_synthesized(base: str) -> float:
    """The server's count of synthesis jobs run for HTTP requests (one per segment)."""
    return metric(scrape(base), "tingshuo_stage_seconds_count", 'stage="synthesize"')


def interactive_jobs(base: str) -> tuple[float, float]:
    """HTTP-class jobs (running, queued) on the server now."""
    text = scrape(base)
    return (
        metric(text, "tingshuo_running", 'priority="interactive"'),
        metric(text, "tingshuo_queue_waiting", 'priority="interactive"'),
    )


async def long_request(args: argparse.Namespace, base: str) -> dict:
    """POST the long text; read the streamed body (or leave after ``--disconnect-after-s``)."""
    import httpx

    out: dict = {"chars": args.chars}
    t0 = time.perf_counter()
    body = {"text": text_of(args.chars, int(time.time()) % 97), "format": "wav"}
    received = 0

    async def read(r: object) -> None:
        nonlocal received
        async for chunk in r.aiter_bytes():  # type: ignore[attr-defined]
            if not received:
                out["first_byte_s"] = round(time.perf_counter() - t0, 3)
            received += len(chunk)

    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=600)) as http,
            http.stream("POST", base + "/api/synthesize", json=body) as r,
        ):
            out["status"] = r.status_code
            out["retry_after"] = r.headers.get("retry-after")
            if r.status_code != 200:
                out["error"] = (await r.aread()).decode(errors="replace")[:300]
            elif args.disconnect_after_s:
                left = max(0.0, args.disconnect_after_s - (time.perf_counter() - t0))
                try:
                    await asyncio.wait_for(read(r), left)
                except TimeoutError:  # leave: closing the stream closes the connection
                    out["disconnected_at_s"] = round(time.perf_counter() - t0, 3)
            else:
                await read(r)
    except httpx.HTTPError as exc:
        out["status"] = f"{type(exc).__name__}: {exc}"
    out["bytes"] = received
    out["audio_s"] = round(max(0, received - 44) / 2 / args.model_rate, 1)
    out["total_s"] = round(time.perf_counter() - t0, 3)
    if "disconnected_at_s" in out:
        # what was running then may finish (a model call is not interrupted); nothing may
        # start after it: wait until no HTTP job runs or waits, then a further settle time
        at_close = segments_synthesized(base)
        out["running_at_disconnect"], out["queued_at_disconnect"] = interactive_jobs(base)
        t_close = time.perf_counter()
        while any(interactive_jobs(base)) and time.perf_counter() - t_close < 300:
            await asyncio.sleep(0.5)
        out["idle_after_s"] = round(time.perf_counter() - t_close, 1)
        await asyncio.sleep(args.settle_s)
        after = segments_synthesized(base)
        out["segments_at_disconnect"] = at_close
        out["segments_after_settle"] = after
        out["segments_after_disconnect"] = after - at_close
        out["no_work_after_disconnect"] = after - at_close <= out["running_at_disconnect"]
    return out


async def sessions(args: argparse.Namespace, server: Server, clips: list, seconds: float) -> dict:
    results: list = []
    until = time.time() + seconds
    await asyncio.gather(
        *(
            _client_loop(args, server.ws_url, clips, c, until, results, offset=c * 3)
            for c in range(args.clients)
        )
    )
    return summarize(results)


async def long_text(args: argparse.Namespace, server: Server, clips: list) -> dict:
    alone = await sessions(args, server, clips, args.phase_s)
    print(json.dumps({"phase": "alone", **alone}), flush=True)
    before = segments_synthesized(server.base)
    long_task = asyncio.create_task(long_request(args, server.base))
    beside = await sessions(args, server, clips, args.phase_s)
    print(json.dumps({"phase": "beside_long_request", **beside}), flush=True)
    if not long_task.done():
        print("waiting for the long request to finish ...", flush=True)
    long = await long_task
    long["segments_total"] = segments_synthesized(server.base) - before
    ratio = beside["v2v_p95_ms"] / alone["v2v_p95_ms"] if alone["v2v_p95_ms"] else float("nan")
    return {
        "scenario": "long-text",
        "clients": args.clients,
        "phase_s": args.phase_s,
        "alone": alone,
        "beside_long_request": beside,
        "v2v_p95_ratio": round(ratio, 2),
        "long_request": long,
        "never_500": long.get("status") != 500,
    }


async def first_byte(args: argparse.Namespace, server: Server) -> dict:
    import httpx

    rows = []
    salt = int(time.time()) % 97  # and not from an earlier benchmark run's cache either
    async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=600)) as http:
        for i in range(args.repeats):
            text = text_of(args.chars, salt + 13 * i)
            body = {"input": text, "response_format": args.format}
            t0 = time.perf_counter()
            first = None
            size = 0
            async with http.stream("POST", server.base + "/v1/audio/speech", json=body) as r:
                async for chunk in r.aiter_bytes():
                    if first is None:
                        first = time.perf_counter() - t0
                    size += len(chunk)
                status = r.status_code
            rows.append(
                {
                    "status": status,
                    "first_byte_s": round(first or float("nan"), 3),
                    "total_s": round(time.perf_counter() - t0, 3),
                    "bytes": size,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    firsts = sorted(r["first_byte_s"] for r in rows)
    return {
        "scenario": "first-byte",
        "chars": args.chars,
        "format": args.format,
        "runs": rows,
        "first_byte_median_s": firsts[len(firsts) // 2],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("mode", choices=["long-text", "first-byte"])
    p.add_argument("--url", default="", help="existing server base URL (default: spawn one)")
    p.add_argument("--server-pid", type=int, default=None)
    p.add_argument("--set", action="append", default=[], help="config override (spawned server)")
    p.add_argument("--api-key", default="")
    p.add_argument("--clips", default="", help="default ../shared/eval/asr-dev/wav")
    p.add_argument("--max-clip-s", type=float, default=8.0)
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--reply-timeout-s", type=float, default=30.0)
    p.add_argument("--ready-timeout-s", type=float, default=600.0)
    p.add_argument("--out", default="benchmarks/results/overload")
    p.add_argument("--clients", type=int, default=2, help="long-text: live dialogue sessions")
    p.add_argument("--phase-s", type=float, default=120.0, help="long-text: seconds per phase")
    p.add_argument("--chars", type=int, default=0, help="default 5000 (long-text), 300")
    p.add_argument("--disconnect-after-s", type=float, default=0.0, help="long-text: leave then")
    p.add_argument("--settle-s", type=float, default=10.0)
    p.add_argument("--model-rate", type=int, default=24000, help="the synthesizer's rate (Hz)")
    p.add_argument("--format", default="mp3", help="first-byte: response_format")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    args.chars = args.chars or (5000 if args.mode == "long-text" else 300)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    server = Server(args)
    try:
        if args.mode == "long-text":
            from tingshuo.core.paths import shared_dir

            folder = Path(args.clips) if args.clips else shared_dir() / "eval" / "asr-dev" / "wav"
            clips = load_clips(folder, args.max_clip_s)
            report = asyncio.run(long_text(args, server, clips))
        else:
            report = asyncio.run(first_byte(args, server))
    finally:
        server.stop()
    report["loadavg_start"] = load0
    report["loadavg_end"] = os.getloadavg()
    name = f"{args.mode}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    (out / name).write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
