"""Load and soak harness for the engine's ``/v1/dialog`` WebSocket.

Simulated clients stream real Mandarin speech (../shared/eval/asr-dev) at real-time pace over
loopback and measure voice-to-voice latency (end of speech → first reply audio).

capacity — ramp concurrent clients (1, 2, 3, 4, 6, 8, ...); each step runs for ``--step-s``
  seconds with every client running sessions back to back. Capacity is the highest N whose
  p95 voice-to-voice latency is under ``--bound-ms`` with no errors.

scaleout — capacity through HAProxy (deploy/haproxy/haproxy.cfg) in front of 1, then 2 spawned
  replicas; prints the capacity ratio 2 replicas : 1. With ``--pin`` each replica runs on its
  own share of the CPUs (replica i on cores i*k..), the 1-replica run on the first share only,
  so the ratio shows what a second machine's worth of cores buys, proxy included.

report — re-read a finished soak (``--out``): RSS floor per cycle of clips, fds, threads.

soak — ``--sessions`` sequential sessions, then ``--minutes`` at ``--clients`` concurrent
  clients (default: half of ``--capacity``), sampling the server's RSS, open fds and threads
  (psutil) every ``--sample-s`` seconds. Reports RSS growth over the sequential phase (after
  ``--warmup`` sessions) and fd/thread growth.

Both write CSV files and PNG plots to ``--out`` (default benchmarks/results/load/).
The server is either started here (``--spawn``, the default: ``python -m engine.cli serve``
on a free port, killed at the end) or reached at ``--url`` (pass ``--server-pid`` to monitor it).

Examples (run under the shared benchmark lock):

    flock /work/bench.lock python benchmarks/load.py capacity --bound-ms 4000 --step-s 60
    flock /work/bench.lock python benchmarks/load.py soak --sessions 1000 --minutes 30 --capacity 2
    python benchmarks/load.py soak --sessions 50 --minutes 2 --clients 1     # a short soak
    flock /work/bench.lock python benchmarks/load.py scaleout --pin --set security.max_sessions_per_ip=0
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_client import Clip, load_clips, result_row, run_session, summarize  # noqa: E402
from load_report import plot_capacity, plot_soak, write_csv  # noqa: E402

RAMP = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The engine under test: spawned here, or an existing one."""

    def __init__(
        self, args: argparse.Namespace, name: str = "server", cpus: set[int] | None = None
    ) -> None:
        self.proc: subprocess.Popen | None = None
        self.pid = args.server_pid
        if args.url:
            self.base = args.url.rstrip("/")
            return
        port = _free_port()
        self.base = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "tingshuo.engine.cli"]
        for item in args.set:
            cmd += ["--set", item]
        cmd += ["serve", "--host", "127.0.0.1", "--port", str(port)]
        self.log = open(Path(args.out) / f"{name}.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=Path(__file__).resolve().parent.parent,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "OMP_NUM_THREADS": str(len(cpus) if cpus else 2)},
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        self.pid = self.proc.pid
        self._wait_ready(args.ready_timeout_s)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see server.log")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as r:
                    body = json.loads(r.read() or b"{}")
                    # ready, and the reply openings are in the synthesis cache (as in service)
                    if r.status == 200 and body.get("reply_prewarm", {"done": True})["done"]:
                        return
            except OSError:
                pass
            time.sleep(1)
        raise SystemExit(f"server not ready after {timeout} s")

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + "/v1/dialog"

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.log.close()


class Monitor:
    """Samples a process's RSS, open fds, threads and CPU every ``interval`` seconds."""

    def __init__(self, pid: int | None, interval: float, t0: float) -> None:
        import psutil

        self.proc = psutil.Process(pid) if pid else None
        self.interval, self.t0 = interval, t0
        self.samples: list[dict[str, object]] = []
        self.phase = ""
        self.sessions_done = 0
        self.active = 0

    def sample(self) -> None:
        if self.proc is None:
            return
        with self.proc.oneshot():
            row = {
                "t_s": round(time.time() - self.t0, 2),
                "phase": self.phase,
                "sessions_done": self.sessions_done,
                "active_clients": self.active,
                "rss_mb": round(self.proc.memory_info().rss / 2**20, 2),
                "fds": self.proc.num_fds(),
                "threads": self.proc.num_threads(),
                "cpu_percent": self.proc.cpu_percent(),
            }
        self.samples.append(row)

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)


async def _client_loop(
    args: argparse.Namespace,
    url: str,
    clips: list[Clip],
    client: int,
    until: float,
    results: list,
    monitor: Monitor | None = None,
    offset: int = 0,
) -> None:
    i = offset
    while time.time() < until:
        r = await run_session(
            url, clips[i % len(clips)], client, args.api_key, args.speed, args.reply_timeout_s
        )
        results.append(r)
        if monitor is not None:
            monitor.sessions_done += 1
        i += 1


async def capacity(args: argparse.Namespace, server: Server, clips: list[Clip]) -> dict:
    out = Path(args.out)
    steps, all_results = [], []
    best = 0
    for n in [n for n in RAMP if args.min_clients <= n <= args.max_clients]:
        results: list = []
        until = time.time() + args.step_s
        await asyncio.gather(
            *(
                _client_loop(args, server.ws_url, clips, c, until, results, offset=c * 3)
                for c in range(n)
            )
        )
        s = {"clients": n, **summarize(results)}
        steps.append(s)
        all_results += [{**result_row(r), "step_clients": n} for r in results]
        passed = s["errors"] == 0 and s["v2v_p95_ms"] <= args.bound_ms
        print(json.dumps({**s, "passed": passed}), flush=True)
        if passed and all(st["errors"] == 0 and st["v2v_p95_ms"] <= args.bound_ms for st in steps):
            best = n  # highest N with this and every smaller step within the bound
        if not passed and not args.full_ramp:
            break
    write_csv(out / "capacity_steps.csv", steps)
    write_csv(out / "capacity_sessions.csv", all_results)
    plot_capacity(steps, args.bound_ms, out / "capacity.png")
    report = {"capacity_clients": best, "bound_ms": args.bound_ms, "steps": steps}
    (out / "capacity.json").write_text(json.dumps(report, indent=2))
    return report


def scaleout(args: argparse.Namespace, clips: list[Clip]) -> dict:
    """Capacity through the proxy with 1 and 2 replicas, and their ratio."""
    from load_proxy import Proxy

    cpus = sorted(os.sched_getaffinity(0))
    share = max(1, len(cpus) // 2)
    runs: dict[int, dict] = {}
    base_out = Path(args.out)
    for replicas in (1, 2):
        out = base_out / f"replicas-{replicas}"
        out.mkdir(parents=True, exist_ok=True)
        run_args = argparse.Namespace(**{**vars(args), "out": str(out)})
        servers = [
            Server(
                run_args,
                f"engine-{i + 1}",
                set(cpus[i * share : (i + 1) * share]) if args.pin else None,
            )
            for i in range(replicas)
        ]
        proxy = Proxy(_free_port(), [s.base for s in servers], out)
        try:
            runs[replicas] = asyncio.run(capacity(run_args, proxy, clips))  # type: ignore[arg-type]
        finally:
            proxy.stop()
            for s in servers:
                s.stop()
    one, two = runs[1]["capacity_clients"], runs[2]["capacity_clients"]
    report = {
        "capacity_1_replica": one,
        "capacity_2_replicas": two,
        "ratio": round(two / one, 2) if one else None,
        "pinned": args.pin,
        "cpus": cpus,
        "bound_ms": args.bound_ms,
    }
    (base_out / "scaleout.json").write_text(json.dumps(report, indent=2))
    return report


async def soak(args: argparse.Namespace, server: Server, clips: list[Clip]) -> dict:
    out = Path(args.out)
    t0 = time.time()
    monitor = Monitor(server.pid, args.sample_s, t0)
    sampler = asyncio.create_task(monitor.run())
    results: list = []
    try:
        monitor.phase, monitor.active = "sequential", 1
        seq_speed = args.seq_speed or args.speed
        warm_rss = None
        for i in range(args.sessions):
            r = await run_session(
                server.ws_url,
                clips[i % len(clips)],
                0,
                args.api_key,
                seq_speed,
                args.reply_timeout_s,
            )
            results.append(r)
            monitor.sessions_done += 1
            if i + 1 == args.warmup:
                monitor.sample()
                warm_rss = monitor.samples[-1]
            if (i + 1) % 25 == 0:
                print(
                    f"sequential {i + 1}/{args.sessions}",
                    json.dumps(summarize(results[-25:])),
                    flush=True,
                )
        monitor.sample()
        seq_end = monitor.samples[-1] if monitor.samples else None
        clients = args.clients or max(1, args.capacity // 2)
        monitor.phase, monitor.active = "concurrent", clients
        until = time.time() + args.minutes * 60
        conc: list = []
        await asyncio.gather(
            *(
                _client_loop(args, server.ws_url, clips, c, until, conc, monitor, offset=c * 5)
                for c in range(clients)
            )
        )
        results += conc
        await asyncio.sleep(2)  # let the server release the last sessions
        monitor.sample()
    finally:
        sampler.cancel()
    rows = [{**result_row(r), "t_s": round(r.started - t0, 2)} for r in results]
    write_csv(out / "soak_sessions.csv", rows)
    write_csv(out / "soak_samples.csv", monitor.samples)
    plot_soak(monitor.samples, rows, out / "soak.png")
    first = warm_rss or (monitor.samples[0] if monitor.samples else None)
    last = monitor.samples[-1] if monitor.samples else None
    report = {
        "sequential_sessions": args.sessions,
        "sequential_speed": seq_speed,
        "concurrent_speed": args.speed,
        "concurrent_clients": clients,
        "concurrent_minutes": args.minutes,
        "sequential": summarize(results[: args.sessions]),
        "concurrent": summarize(conc),
    }
    if first and seq_end and last:
        report |= {
            "rss_mb_after_warmup": first["rss_mb"],
            "rss_mb_after_sequential": seq_end["rss_mb"],
            "rss_mb_end": last["rss_mb"],
            "rss_growth_sequential_pct": round(
                100 * (seq_end["rss_mb"] - first["rss_mb"]) / first["rss_mb"], 2
            ),
            "fds_after_warmup": first["fds"],
            "fds_end": last["fds"],
            "threads_after_warmup": first["threads"],
            "threads_end": last["threads"],
        }
    (out / "soak.json").write_text(json.dumps(report, indent=2))
    return report


def rss_floors(samples: list[dict], window: int) -> list[tuple[int, float]]:
    """Lowest RSS per window of ``window`` sessions (the level between sessions' transients).

    Sessions cycle through the clips, so with ``window`` = number of clips every window sees
    the same work; a leak shows as floors that keep rising after the first cycles.
    """
    out: dict[int, float] = {}
    for row in samples:
        w = int(row["sessions_done"]) // window
        out[w] = min(out.get(w, float("inf")), float(row["rss_mb"]))
    return sorted(out.items())


def soak_report(args: argparse.Namespace, n_clips: int) -> dict:
    """Re-read a finished soak's samples: RSS floor per clip cycle, fds and threads."""
    import csv

    with open(Path(args.out) / "soak_samples.csv", encoding="utf-8") as fh:
        samples = list(csv.DictReader(fh))
    floors = rss_floors(samples, n_clips)
    steady = [f for w, f in floors if w >= 2]  # from the third cycle on (allocator warm)
    return {
        "rss_floor_mb_per_cycle": floors,
        "rss_growth_steady_pct": round(100 * (steady[-1] - steady[0]) / steady[0], 2)
        if len(steady) > 1
        else None,
        "fds": [int(samples[0]["fds"]), int(samples[-1]["fds"])],
        "threads": [int(samples[0]["threads"]), int(samples[-1]["threads"])],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("mode", choices=["capacity", "soak", "report", "scaleout"])
    p.add_argument("--pin", action="store_true", help="scaleout: one CPU share per replica")
    p.add_argument("--url", default="", help="existing server base URL (default: spawn one)")
    p.add_argument("--server-pid", type=int, default=None, help="PID to monitor with --url")
    p.add_argument(
        "--set", action="append", default=[], help="config override for the spawned server"
    )
    p.add_argument("--api-key", default="", help="key or token sent in session.start")
    p.add_argument(
        "--clips", default="", help="folder of .wav clips (default ../shared/eval/asr-dev/wav)"
    )
    p.add_argument("--max-clip-s", type=float, default=8.0, help="truncate clips to this length")
    p.add_argument("--speed", type=float, default=1.0, help="streaming pace; 1 = real time")
    p.add_argument(
        "--seq-speed",
        type=float,
        default=0.0,
        help="soak: pace of the sequential phase only (default: --speed); the concurrent "
        "phase always streams at --speed",
    )
    p.add_argument("--reply-timeout-s", type=float, default=30.0)
    p.add_argument("--ready-timeout-s", type=float, default=600.0)
    p.add_argument("--out", default="benchmarks/results/load")
    p.add_argument("--bound-ms", type=float, default=4000.0, help="capacity: p95 v2v bound")
    p.add_argument("--step-s", type=float, default=60.0, help="capacity: seconds per ramp step")
    p.add_argument("--max-clients", type=int, default=64)
    p.add_argument("--min-clients", type=int, default=1, help="capacity: first ramp step")
    p.add_argument(
        "--full-ramp", action="store_true", help="capacity: keep ramping past the bound (curve)"
    )
    p.add_argument("--sessions", type=int, default=1000, help="soak: sequential sessions")
    p.add_argument("--warmup", type=int, default=20, help="soak: sessions before the RSS baseline")
    p.add_argument("--minutes", type=float, default=30.0, help="soak: concurrent phase length")
    p.add_argument("--capacity", type=int, default=2, help="soak: measured capacity (N)")
    p.add_argument("--clients", type=int, default=0, help="soak: concurrent clients (default N/2)")
    p.add_argument("--sample-s", type=float, default=2.0)
    args = p.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)

    from tingshuo.core.paths import shared_dir

    clips = load_clips(
        Path(args.clips) if args.clips else shared_dir() / "eval" / "asr-dev" / "wav",
        args.max_clip_s,
    )
    print(
        f"{len(clips)} clips, {sum(c.seconds for c in clips):.1f} s of speech; load {os.getloadavg()}",
        flush=True,
    )
    if args.mode == "report":
        print(json.dumps(soak_report(args, len(clips)), indent=2))
        return 0
    if args.mode == "scaleout":
        if args.url:
            raise SystemExit("scaleout spawns its own replicas and proxy (no --url)")
        report = scaleout(args, clips)
        report["loadavg_end"] = os.getloadavg()
        print(json.dumps(report, indent=2, default=str))
        return 0
    server = Server(args)
    try:
        run = capacity if args.mode == "capacity" else soak
        report = asyncio.run(run(args, server, clips))
    finally:
        server.stop()
    report["loadavg_end"] = os.getloadavg()
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
