"""SQLite job store and webhook delivery with retries (a real local HTTP receiver)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from tingshuo.engine.jobs import JobStore, deliver_webhook


def test_store_round_trip_and_restart_recovery(tmp_path) -> None:  # noqa: ANN001
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.create({"text": "你好", "emotion": "sad"}, "http://127.0.0.1:1/hook")
    assert job.status == "queued" and job.params["text"] == "你好" and job.id.startswith("job_")
    store.update(job.id, status="running", progress=0.5)
    store.close()
    reopened = JobStore(tmp_path / "jobs.sqlite3")
    assert reopened.unfinished() == [job.id]
    got = reopened.get(job.id)
    assert got is not None and got.progress == 0.5 and got.webhook.endswith("/hook")
    reopened.update(job.id, status="done", result="missing.wav")
    assert reopened.result_path(reopened.get(job.id)) is None  # no file, no path
    assert reopened.unfinished() == [] and reopened.get("job_nope") is None


class _Flaky(BaseHTTPRequestHandler):
    calls: list[tuple[float, dict]] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).calls.append(
            (time.monotonic(), json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        )
        self.send_response(500 if len(type(self).calls) < 3 else 200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_retries_with_doubling_backoff_and_jitter() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ok, attempts = asyncio.run(
        deliver_webhook(
            f"http://127.0.0.1:{server.server_port}/",
            {"id": "j"},
            retries=4,
            backoff_s=0.1,
            timeout_s=2,
        )
    )
    server.shutdown()
    assert ok and attempts == 3
    times = [t for t, _ in _Flaky.calls]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19  # 0.1 s, then 0.2 s, each + up to 0.1 s jitter
    assert gaps[0] < 0.6 and gaps[1] < 0.8
    assert all(body == {"id": "j"} for _, body in _Flaky.calls)


def test_webhook_gives_up_after_retries() -> None:
    ok, attempts = asyncio.run(
        deliver_webhook("http://127.0.0.1:9/", {}, retries=2, backoff_s=0.01, timeout_s=0.5)
    )
    assert not ok and attempts == 3
