"""HAProxy for benchmarks/load.py scaleout: deploy/haproxy/haproxy.cfg on loopback.

The deployment's own configuration, with its ``bind`` line moved to a free loopback port and
its compose ``server-template`` line replaced by the engines started here.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"


def render(port: int, engines: list[str]) -> str:
    """The configuration for ``127.0.0.1:port`` in front of ``engines`` (base URLs)."""
    text = HAPROXY_CFG.read_text()
    text = text.replace("    bind :8080\n", f"    bind 127.0.0.1:{port}\n")
    servers = "".join(
        f"    server engine{i + 1} {base.removeprefix('http://')} check\n"
        for i, base in enumerate(engines)
    )
    return "".join(
        servers if "server-template engine" in line else line
        for line in text.splitlines(keepends=True)
    )


class Proxy:
    """A running HAProxy; ``stop()`` ends it."""

    def __init__(self, port: int, engines: list[str], out: Path) -> None:
        binary = shutil.which("haproxy")
        if binary is None:
            raise SystemExit("haproxy not installed (apt-get install haproxy)")
        cfg = out / "haproxy.cfg"
        cfg.write_text(render(port, engines))
        self.base = f"http://127.0.0.1:{port}"
        self.log = open(out / "haproxy.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(cfg)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise SystemExit("HAProxy did not reach a ready engine; see haproxy.log")

    @property
    def ws_url(self) -> str:
        return self.base.replace("http", "ws", 1) + "/v1/dialog"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
