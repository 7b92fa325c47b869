"""The WebUI with auth on, in real headless Chromium: key → short-lived token, never stored.

The TTS page's first API call gets 401; engine/webui/static/auth.js asks for the key once
(a JavaScript prompt, answered here), trades it at POST /api/token, and from then on sends
only the token. Model doubles keep it fast: the subject is the auth flow, not synthesis.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

import pytest

from tests.engine_doubles import (
    EchoKnowledgePolicy,
    KeywordEmotionBridge,
    ScriptedRecognizer,
    ToneSynthesizer,
)
from tests.engine_server import engine_test_config, running_server
from tingshuo.engine.security.keys import generate_key, hash_key
from tingshuo.engine.services import Services

pytestmark = [pytest.mark.browser]
KEY = generate_key()


def test_tts_page_trades_the_key_for_a_token(tmp_path) -> None:  # noqa: ANN001
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip(
            "chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    config = engine_test_config(warmup=False)
    sec = dataclasses.replace(
        config.security, auth=True, api_key_hashes=(hash_key(KEY),), token_ttl_s=120
    )
    config = dataclasses.replace(config, security=sec)
    bridge = KeywordEmotionBridge()
    services = Services(
        config, ScriptedRecognizer([]), ToneSynthesizer(), bridge, EchoKnowledgePolicy(bridge)
    )
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        "--autoplay-policy=no-user-gesture-required",
    ):  # fmt: skip
        opts.add_argument(flag)
    with running_server(config, services) as base:
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
        try:
            driver.get(base + "/ui/tts.html")
            alert = WebDriverWait(driver, 20).until(ec.alert_is_present())
            alert.send_keys(KEY)
            alert.accept()
            WebDriverWait(driver, 20).until(
                lambda d: len(d.find_elements(By.CSS_SELECTOR, "input[name=voice]")) > 0
            )
            driver.find_element(By.ID, "speak").click()
            WebDriverWait(driver, 20).until(
                lambda d: (
                    d.execute_script("return document.getElementById('player').readyState") >= 1
                )
            )
            status = driver.find_element(By.ID, "status").text
            assert "s," in status, status  # "0.xx s, tone, neutral"
            stored = driver.execute_script(
                "return JSON.stringify(Object.assign({}, sessionStorage, localStorage))"
            )
            assert "tst1." in stored and KEY not in stored  # only the token is kept
            token = driver.execute_script("return window.TINGSHUO_TOKEN")
            assert token.startswith("tst1.")
            # A reload reuses the token: no second prompt.
            driver.get(base + "/ui/talk.html")
            time.sleep(1.0)
            with pytest.raises(NoAlertPresentException):
                driver.switch_to.alert.text  # noqa: B018
        finally:
            driver.quit()


def test_pages_say_clearly_when_the_key_is_missing() -> None:
    """Dismissing the key prompt leaves a clear bilingual message (and a way to enter one),
    on both pages."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.browser.chromium import chrome, require_chromium

    require_chromium()
    config = engine_test_config(warmup=False)
    sec = dataclasses.replace(config.security, auth=True, api_key_hashes=(hash_key(KEY),))
    config = dataclasses.replace(config, security=sec)
    bridge = KeywordEmotionBridge()
    services = Services(
        config, ScriptedRecognizer([]), ToneSynthesizer(), bridge, EchoKnowledgePolicy(bridge)
    )
    with running_server(config, services) as base:
        driver = chrome()
        try:
            for page in ("tts.html", "talk.html"):
                driver.get(f"{base}/ui/{page}")
                WebDriverWait(driver, 20).until(ec.alert_is_present()).dismiss()
                banner = WebDriverWait(driver, 20).until(
                    ec.visibility_of_element_located(("id", "auth-banner"))
                )
                assert "需要 API 密钥" in banner.text and "API key required" in banner.text, page
                assert banner.find_element("tag name", "button").text == "输入密钥 Enter key"
        finally:
            driver.quit()
