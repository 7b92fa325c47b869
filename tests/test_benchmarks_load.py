"""The load harness's client and report code on a running engine (model doubles, seconds)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.paths import repo_root
from tingshuo.engine.services import Services

sys.path.insert(0, str(repo_root() / "benchmarks"))
load_client = pytest.importorskip("load_client")
load_report = pytest.importorskip("load_report")


def test_sessions_on_real_speech_are_measured_and_reported(asr_dev, tmp_path) -> None:  # noqa: ANN001
    clips = load_client.load_clips(asr_dev / "wav", max_seconds=2.0)
    assert len(clips) >= 10 and all(c.seconds <= 2.0 for c in clips)
    config = engine_test_config(warmup=False)
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        ScriptedRecognizer(["你好"] * 50),
        ToneSynthesizer(),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    with running_server(config, services) as base:
        url = base.replace("http", "ws") + "/v1/dialog"

        async def main() -> list:
            return await asyncio.gather(
                *(load_client.run_session(url, clips[i], i, speed=4.0) for i in range(3))
            )

        results = asyncio.run(main())
        bad = load_client.run_session("ws://127.0.0.1:9/v1/dialog", clips[0], 9)
        refused = asyncio.run(bad)
    assert all(r.ok for r in results), [r.error for r in results]
    for r in results:
        # The engine's VAD sees each frame as it arrives, so with the instant test-double
        # recognizer a final may precede the harness's end-of-speech stamp by a frame.
        frame_ms = 20
        assert -frame_ms < r.final_ms <= r.v2v_ms < 10_000 and r.reply_frames > 0
        assert r.transcript == "你好"
    assert not refused.ok and "Error" in refused.error
    summary = load_client.summarize([*results, refused])
    assert summary["sessions"] == 4 and summary["errors"] == 1
    assert summary["v2v_p50_ms"] <= summary["v2v_p95_ms"]
    rows = [load_client.result_row(r) for r in results]
    assert load_report.write_csv(tmp_path / "s.csv", rows) == 3
    steps = [{"clients": 1, **summary}, {"clients": 2, **summary}]
    load_report.plot_capacity(steps, 4000, tmp_path / "c.png")
    samples = [
        {"t_s": t, "rss_mb": 100 + t, "fds": 20, "threads": 9, "phase": "sequential"}
        for t in range(5)
    ]
    sessions = [{**row, "t_s": 1.0} for row in rows]
    load_report.plot_soak(samples, sessions, tmp_path / "s.png")
    assert (tmp_path / "c.png").stat().st_size > 5000 and (tmp_path / "s.png").stat().st_size > 5000


@pytest.mark.skipif(__import__("shutil").which("haproxy") is None, reason="haproxy not installed")
def test_the_scaleout_proxy_config_is_the_deployment_one_on_loopback(tmp_path) -> None:  # noqa: ANN001
    import subprocess

    load_proxy = pytest.importorskip("load_proxy")
    text = load_proxy.render(18080, ["http://127.0.0.1:18001", "http://127.0.0.1:18002"])
    assert "bind 127.0.0.1:18080" in text and "\n    server-template" not in text
    assert "server engine2 127.0.0.1:18002 check" in text
    assert "http-check send meth GET uri /readyz" in text  # the deployment's checks, unchanged
    (tmp_path / "h.cfg").write_text(text)
    run = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "h.cfg")], capture_output=True)
    assert run.returncode == 0, run.stderr
