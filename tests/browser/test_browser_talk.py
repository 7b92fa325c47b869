"""The Talk page in real headless Chromium with a WAV file as the microphone.

Follows ../shared/recipes/browser-mic.md: Chromium's fake capture device plays the clip
into getUserMedia → AudioWorklet → /v1/dialog; the page must show the clip's transcript and
play a reply. Real Whisper + Kokoro. Skips (with the reason) when Chromium is absent.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.browser.chromium import chrome, require_chromium
from tests.engine_real import cer, load_real_services, references
from tests.engine_server import engine_test_config, running_server
from tingshuo.core.audio import Audio, read_audio, write_wav

pytestmark = [pytest.mark.slow, pytest.mark.browser]
CLIP = "firered_aishell1_BAC009S0764W0121.wav"


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    require_chromium()
    config = engine_test_config()
    services = load_real_services(config)
    with running_server(config, services) as base:
        yield base


def test_talk_page_shows_transcript_and_plays_reply(engine: str, asr_dev, tmp_path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    clip = read_audio(asr_dev / "wav" / CLIP, 16000)
    lead, tail = np.zeros(int(2.0 * 16000), np.float32), np.zeros(int(4.0 * 16000), np.float32)
    mic = tmp_path / "mic.wav"
    write_wav(mic, Audio(np.concatenate([lead, clip.samples, tail]), 16000))

    driver = chrome(mic)
    try:
        driver.get(engine + "/")
        assert "Talk" in driver.title
        driver.find_element(By.ID, "start").click()
        deadline = time.monotonic() + 150
        state: dict = {}
        while time.monotonic() < deadline:
            state = driver.execute_script("return window.talkState")
            if state["finals"] and state["audioFrames"] > 0 and state["playedMs"] > 0:
                break
            time.sleep(0.5)
        assert state.get("finals"), f"no transcript; events seen: {state.get('events')}"
        assert cer(references(asr_dev)[CLIP], state["finals"][0]) <= 0.3, state["finals"]
        user = driver.find_element(By.CSS_SELECTOR, "li.msg.user .text").text
        assert user == state["finals"][0]
        reply = driver.find_element(By.CSS_SELECTOR, "li.msg.bot .text").text
        assert state["replies"] and reply == state["replies"][0]
        assert driver.find_elements(By.CSS_SELECTOR, "li.msg.user .tag.emotion")
        assert state["latencies"], state
        assert state["audioFrames"] > 0 and state["playedMs"] > 0, state
    finally:
        driver.quit()


def test_tts_page_plays_and_offers_a_download(engine: str) -> None:
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = chrome()
    try:
        driver.get(engine + "/ui/tts.html")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not driver.find_elements(
            By.CSS_SELECTOR, "#emotion option"
        ):
            time.sleep(0.2)
        Select(driver.find_element(By.ID, "emotion")).select_by_value("happy")
        driver.find_element(By.ID, "speak").click()
        link = driver.find_element(By.ID, "download")
        while time.monotonic() < deadline + 60 and not link.get_attribute("href").count(
            "/download/"
        ):
            time.sleep(0.3)
        href = link.get_attribute("href")
        assert "/download/" in href, driver.find_element(By.ID, "status").text
        assert "happy" in driver.find_element(By.ID, "status").text
        wav = read_audio(httpx.get(href).content)
        assert wav.duration > 1.0
        assert driver.execute_script("return document.getElementById('player').src") == href
    finally:
        driver.quit()
