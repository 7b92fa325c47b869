"""Headless Chromium for the browser tests (flags from ../shared/recipes/browser-mic.md) and
axe-core, installed at test time through npm from the pinned lock in tests/browser/axe/."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

AXE_DIR = Path(__file__).parent / "axe"
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--autoplay-policy=no-user-gesture-required",
)
DESKTOP = (1280, 900)
PHONE = (390, 844)  # a common phone's CSS viewport


def require_chromium() -> None:
    """Skip (with the reason) when Chromium or its driver is missing."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip(
            "chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
        )


def chrome(mic_wav: Path | None = None, size: tuple[int, int] = DESKTOP) -> Any:
    """A Selenium Chrome driver; with ``mic_wav`` the fake microphone plays that file once."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={size[0]},{size[1]}")
    if mic_wav is not None:
        opts.add_argument("--use-fake-ui-for-media-stream")
        opts.add_argument("--use-fake-device-for-media-stream")
        opts.add_argument(f"--use-file-for-fake-audio-capture={mic_wav}%noloop")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)


def page_errors(driver: Any) -> list[str]:
    """Severe console entries (uncaught JS errors, failed loads) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def external_requests(driver: Any, origin: str) -> list[str]:
    """Every resource the page loaded from anywhere but ``origin`` (must stay empty)."""
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [n for n in names if not n.startswith((origin, "data:", "blob:"))]


def axe_source() -> str:
    """axe.min.js from ``npm ci`` of the pinned lock (cached per run); skips without npm."""
    source, reason = axe_source_or_reason()
    if source is None:
        pytest.skip(reason)
    return source


def axe_source_or_reason() -> tuple[str | None, str]:
    """(axe.min.js, "") or (None, why it is unavailable)."""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm not installed: the accessibility check needs axe-core from npm"
    work = Path(tempfile.gettempdir()) / "tingshuo-axe"
    target = work / "node_modules" / "axe-core" / "axe.min.js"
    lock = json.loads((AXE_DIR / "package-lock.json").read_text())
    want = lock["packages"]["node_modules/axe-core"]["version"]
    have = work / "node_modules" / "axe-core" / "package.json"
    if not (target.is_file() and json.loads(have.read_text())["version"] == want):
        work.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(AXE_DIR / name, work / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            return None, f"npm ci axe-core failed: {done.stderr[-500:]}"
    return target.read_text(), ""


def run_axe(driver: Any, source: str) -> dict[str, Any]:
    """Run axe-core (WCAG 2.x A/AA + best practices) on the current page; its raw result."""
    driver.execute_script(source)
    driver.set_script_timeout(60)
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag",
                values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}})
           .then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact,
                   help: v.help, nodes: v.nodes.map(n => n.target.join(" "))})),
                 passes: r.passes.map(p => p.id), incomplete: r.incomplete.map(i => i.id)}))
           .catch(e => done({error: String(e)}));
        """
    )


def axe_score(result: dict[str, Any]) -> int:
    """Share of applicable axe rules that pass, 0–100 (Lighthouse's accessibility score is
    the weighted form of the same: failing audits out of applicable ones)."""
    passed, failed = len(result["passes"]), len(result["violations"])
    return round(100 * passed / max(1, passed + failed))


def screenshot(driver: Any, path: Path, size: tuple[int, int]) -> None:
    """A PNG of the page at ``size`` (CSS px), palette-quantized to stay small for docs/."""
    import io

    from PIL import Image

    driver.set_window_size(*size)
    driver.execute_script("window.scrollTo(0, 0)")
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
