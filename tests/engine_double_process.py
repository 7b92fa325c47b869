"""An engine process on the model doubles, for tests that need several real processes.

    python -m tests.engine_double_process --port 8001 [--delay 1.0] [--set section.field=value ...]
    python -m tests.engine_double_process --worker --results DIR [--delay 1.0] [--set ...]

Same server as ``tingshuo serve`` (engine/serve_cli.py: uvicorn, SIGTERM drains), or the same
job worker as ``tingshuo worker`` (engine/scaleout/worker_cli.py), but the recognizer, synthesizer, bridge and policy are the deterministic doubles of
tests/engine_doubles.py, so many processes start in a second on a small machine.
"""

from __future__ import annotations

import argparse
import dataclasses

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tingshuo.engine.app import create_app
from tingshuo.engine.config import load_config
from tingshuo.engine.serve_cli import build_server
from tingshuo.engine.services import Services


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--worker", action="store_true", help="a job worker instead of a server")
    parser.add_argument("--results", default="", help="the worker's local results folder")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per synthesized segment")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    args = parser.parse_args()
    config = load_config(env={}, overrides=["server.warmup=false", *args.sets])
    config = dataclasses.replace(
        config, server=dataclasses.replace(config.server, host="127.0.0.1", port=args.port)
    )
    bridge = KeywordEmotionBridge()
    services = Services(
        config,
        ScriptedRecognizer(["你好"] * 1000),
        ToneSynthesizer(delay=args.delay),
        bridge,
        EchoKnowledgePolicy(bridge),
    )
    if args.worker:
        from pathlib import Path

        from tingshuo.engine.logs import configure
        from tingshuo.engine.scaleout.worker_cli import run_worker

        configure("INFO", "text")
        services.ready = True
        run_worker(config, services, Path(args.results))
        return
    build_server(config, create_app(config, services)).run()


if __name__ == "__main__":
    main()
