"""Voice-to-voice latency of /v1/dialog under N concurrent real-time clients.

    flock /work/bench.lock python benchmarks/dialog_latency.py [--n 1 4 8] [--turns 3]

Starts ``tingshuo serve`` on a free loopback port (or uses ``--url``), then for each N runs
N clients at once; each streams real clips from ../shared/eval/asr-dev at real-time pace
(20 ms frames, 1.2 s of trailing silence so the VAD ends the turn) and waits for the reply.

Per turn:
- voice-to-voice = first reply audio frame received − time the clip's last voiced 20 ms frame
  (RMS above 1/10 of its loudest frame) was sent; the VAD's end-of-speech hangover is inside
  this figure, as a user experiences it;
- first-partial lag = first ``transcript.partial`` received − ``speech.started``'s audio
  position sent (how long after the user starts talking live text appears);
- partial interval = mean time between successive partials.
Server CPU (utime+stime / wall, 100 % = one core) and peak RSS come from /proc/<pid>;
the stage breakdown (N=1) from the server's /metrics histograms (mean per call).
Figures are appended to benchmarks/results/dialog.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tingshuo.core.audio import Audio, read_audio  # noqa: E402
from tingshuo.core.paths import shared_dir  # noqa: E402
from tingshuo.engine.dialog_client import DialogClient  # noqa: E402
from tingshuo.engine.events import (  # noqa: E402
    ReplyAudio,
    ReplyDone,
    SessionStart,
    SpeechStartedEvent,
    TranscriptFinal,
    TranscriptPartial,
)

CLIPS = [
    "firered_aishell1_BAC009S0764W0121.wav",
    "firered_aishell2_IT0011W0001.wav",
    "wenet_aishell1_BAC009S0724W0121.wav",
    "wenet_nst_ID001.wav",
    "firered2s_hello_zh.wav",
    "wenet_nst_ID002.wav",
]
STAGES = ("endpoint", "asr", "emotion", "policy", "tts_first", "tts")


@dataclass
class Turn:
    v2v: float | None = None
    first_partial_lag: float | None = None
    partial_intervals: list[float] = field(default_factory=list)
    ok: bool = False


def voiced_end_frame(clip: Audio) -> int:
    """Index + 1 of the last 20 ms frame louder than 1/10 of the clip's loudest frame."""
    n = len(clip.samples) // 320
    rms = np.sqrt(np.mean(clip.samples[: n * 320].reshape(n, 320) ** 2, axis=1))
    voiced = np.nonzero(rms > 0.1 * rms.max())[0]
    return int(voiced[-1]) + 1 if voiced.size else n


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def one_client(url: str, clips: list[Audio], turns: int, offset: int) -> list[Turn]:
    results: list[Turn] = []
    sent_at: list[float] = []  # perf_counter of each 20 ms frame sent, session audio order

    async with DialogClient(url, SessionStart()) as client:
        for k in range(turns):
            clip = clips[(offset + k) % len(clips)]
            pad = Audio(np.zeros(int(1.2 * 16000), np.float32), 16000)
            n_events = len(client.events)
            finals_before = len(client.of(TranscriptFinal))
            done_before = len(client.of(ReplyDone))
            t_start = time.perf_counter()
            await client.stream(clip, realtime=True)
            sent_end = time.perf_counter()
            frames = int(np.ceil(clip.duration / 0.02))
            # end of speech: when the clip's last voiced 20 ms frame was sent (clips carry
            # some trailing silence of their own)
            speech_end = sent_end - (frames - voiced_end_frame(clip)) * 0.02
            sent_at.extend(t_start + 0.02 * (i + 1) for i in range(frames))
            await client.stream(pad, realtime=True)
            turn = Turn()
            try:
                await client.wait_for(TranscriptFinal, 60, count=finals_before + 1)
                if client.of(TranscriptFinal)[-1].text:
                    await client.wait_for(ReplyDone, 90, count=done_before + 1)
                    turn.ok = True
            except TimeoutError:
                results.append(turn)
                continue
            sent_at.extend(sent_end + 0.02 * (i + 1) for i in range(int(1.2 / 0.02)))
            new = client.events[n_events:]
            audio_times = [t for t, e in new if isinstance(e, ReplyAudio)]
            if audio_times:
                turn.v2v = audio_times[0] - speech_end
            starts = [e for _, e in new if isinstance(e, SpeechStartedEvent)]
            partial_times = [t for t, e in new if isinstance(e, TranscriptPartial)]
            if starts and partial_times:
                idx = min(len(sent_at) - 1, max(0, starts[0].time_ms // 20))
                turn.first_partial_lag = partial_times[0] - sent_at[idx]
                turn.partial_intervals = list(np.diff(partial_times))
            results.append(turn)
    return results


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


def scrape_stages(base: str) -> dict[str, tuple[float, float]]:
    text = httpx.get(base + "/metrics").text
    out = {}
    for stage in (*STAGES, "v2v"):
        if stage == "v2v":
            s = re.search(r"^tingshuo_voice_to_voice_seconds_sum ([\d.e+-]+)", text, re.M)
            c = re.search(r"^tingshuo_voice_to_voice_seconds_count ([\d.e+-]+)", text, re.M)
        else:
            s = re.search(
                rf'^tingshuo_stage_seconds_sum{{stage="{stage}"}} ([\d.e+-]+)', text, re.M
            )
            c = re.search(
                rf'^tingshuo_stage_seconds_count{{stage="{stage}"}} ([\d.e+-]+)', text, re.M
            )
        out[stage] = (float(s.group(1)) if s else 0.0, float(c.group(1)) if c else 0.0)
    return out


async def run_level(
    url: str, base: str, pid: int | None, n: int, clips: list[Audio], turns: int
) -> dict:
    before = scrape_stages(base)
    cpu0, t0 = (proc_cpu_seconds(pid) if pid else 0.0), time.perf_counter()
    peak = [proc_rss_mb(pid) if pid else float("nan")]

    async def sample_rss() -> None:
        while pid:
            peak.append(proc_rss_mb(pid))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample_rss())
    per_client = await asyncio.gather(*(one_client(url, clips, turns, i) for i in range(n)))
    sampler.cancel()
    wall = time.perf_counter() - t0
    cpu = (proc_cpu_seconds(pid) - cpu0) / wall * 100 if pid else float("nan")
    after = scrape_stages(base)
    turns_all = [t for c in per_client for t in c]
    v2v = [t.v2v for t in turns_all if t.v2v is not None]
    lag = [t.first_partial_lag for t in turns_all if t.first_partial_lag is not None]
    intervals = [x for t in turns_all for x in t.partial_intervals]
    stages = {}
    for stage in after:
        ds, dc = after[stage][0] - before[stage][0], after[stage][1] - before[stage][1]
        stages[stage] = ds / dc if dc else float("nan")
    return {
        "n": n,
        "turns": len(turns_all),
        "ok": sum(t.ok for t in turns_all),
        "v2v_p50": percentile(v2v, 50),
        "v2v_p95": percentile(v2v, 95),
        "lag_p50": percentile(lag, 50),
        "lag_p95": percentile(lag, 95),
        "interval": statistics.mean(intervals) if intervals else float("nan"),
        "cpu": cpu,
        "rss": max(peak),
        "stages": stages,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(tts_cache: str, cache_dir: str) -> tuple[subprocess.Popen, str]:
    """``tts_cache``: off (no synthesis cache), prewarm (a fresh cache holding only the reply
    openings the engine pre-renders at start-up; waits for them), warm (the user's cache)."""
    port = free_port()
    cache_env = {"TINGSHUO_TTS__CACHE__ENABLED": "false" if tts_cache == "off" else "true"}
    if tts_cache == "prewarm":
        cache_env["TINGSHUO_TTS__CACHE__DIR"] = cache_dir
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tingshuo.engine.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "TINGSHUO_LOG_LEVEL": "WARNING",
            "TINGSHUO_SECURITY__IDLE_TIMEOUT_S": "300",
            # replies repeat across turns: without a fresh cache, TTS figures would be hits
            **cache_env,
        },
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 3600  # loading, then the reply prewarm (minutes if loaded)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            ready = httpx.get(base + "/readyz", timeout=2)
            prewarm = ready.json().get("reply_prewarm", {"done": True}) if ready.is_success else {}
            if ready.status_code == 200 and prewarm.get("done"):
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("server did not become ready")


def report(rows: list[dict], cmd: str, load: str) -> str:
    lines = [
        f"## /v1/dialog voice-to-voice latency ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        "",
        f"Command: `{cmd}`  ",
        "Machine: 2-core CPU, no GPU, shared with other helpers' jobs (load average before the run: "
        f"{load}). Models: Whisper base int8 (CTranslate2) + Kokoro-82M int8 ONNX; clips from "
        "../shared/eval/asr-dev streamed at real-time pace in 20 ms frames over loopback; "
        "synthesis cache: see --tts-cache (prewarm: only the reply openings the engine "
        "renders at start-up are cached). Emotion bridge: the engine's configured one "
        "(the packaged trained checkpoint by default); reply policy: dialog's knowledge base.",
        "",
        "| N clients | turns ok | v2v p50 (s) | v2v p95 (s) | first-partial lag p50 / p95 (s) | partial interval (s) | server CPU (% of one core) | server peak RSS (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']} | {r['ok']}/{r['turns']} | {r['v2v_p50']:.2f} | {r['v2v_p95']:.2f} | "
            f"{r['lag_p50']:.2f} / {r['lag_p95']:.2f} | {r['interval']:.2f} | {r['cpu']:.0f} | {r['rss']:.0f} |"
        )
    first = rows[0]
    lines += [
        "",
        f"Stage breakdown at N={first['n']} (server-side means per call, from /metrics):",
        "",
        "| stage | mean (s) |",
        "|---|---|",
    ]
    names = {
        "endpoint": "end of speech → final transcript (hangover / prefetched final decode)",
        "asr": "ASR decode (one streaming decode call: partial, prefetch or final)",
        "emotion": "emotion bridge",
        "policy": "reply policy",
        "tts_first": "TTS to first audio frame (after reply text)",
        "tts": "TTS, whole reply",
        "v2v": "server voice-to-voice (VAD end-of-speech → first frame queued)",
    }
    for stage, label in names.items():
        lines.append(f"| {label} | {first['stages'].get(stage, float('nan')):.3f} |")
    parts = ("endpoint", "emotion", "policy", "tts_first")
    total = sum(first["stages"].get(k, float("nan")) for k in parts)
    lines.append(f"| sum of endpoint + emotion + policy + TTS first audio | {total:.3f} |")
    lines += [
        "",
        "v2v = first reply audio frame received − end of the clip's speech sent; it includes the "
        "endpointer's silence hangover (asr.endpoint.min_silence_ms) and the final decode.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--turns", type=int, default=3, help="turns per client")
    ap.add_argument(
        "--url", default="", help="use a running engine (http://host:port) instead of starting one"
    )
    ap.add_argument(
        "--tts-cache",
        choices=("off", "prewarm", "warm"),
        default="prewarm",
        help="off: no synthesis cache; prewarm (default): a fresh cache with only the reply "
        "openings the engine pre-renders; warm: the user's cache as it is",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dialog.md"))
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().split()[:3]
    clips = [read_audio(shared_dir() / "eval" / "asr-dev" / "wav" / c, 16000) for c in CLIPS]
    proc = None
    if args.url:
        base, pid = args.url.rstrip("/"), None
    else:
        tmp = tempfile.mkdtemp(prefix="tingshuo-bench-cache-")
        proc, base = start_server(args.tts_cache, tmp)
        pid = proc.pid
    url = base.replace("http", "ws", 1) + "/v1/dialog"
    rows = []
    try:
        for n in args.n:
            row = asyncio.run(run_level(url, base, pid, n, clips, args.turns))
            rows.append(row)
            print(
                f"N={n}: ok {row['ok']}/{row['turns']}  v2v p50 {row['v2v_p50']:.2f}s p95 {row['v2v_p95']:.2f}s  "
                f"first-partial lag p50 {row['lag_p50']:.2f}s  CPU {row['cpu']:.0f}%  RSS {row['rss']:.0f} MiB  "
                f"stages { ({k: round(v, 3) for k, v in row['stages'].items()}) }",
                flush=True,
            )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(60)
    text = report(
        rows, "python benchmarks/dialog_latency.py " + " ".join(sys.argv[1:]), " ".join(load)
    )
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")


if __name__ == "__main__":
    main()
