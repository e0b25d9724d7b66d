"""The idle timeout's countdown on the patient's page (its own daemon: a 12 s timeout, in a module of its own so
that one virtual card is on vpcd at a time)."""
from __future__ import annotations

import re

import pytest

from helpers.daemon_process import BenchDaemon
from helpers.kiosk_page import Kiosk, KioskWeb, browser  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.pcscd


def test_countdown_warns_and_the_patient_can_continue(pcscd, browser, tmp_path):
    daemon = BenchDaemon(tmp_path, settings={"policy.idle_timeout_seconds": "12"})
    web = KioskWeb(daemon.kiosk_path, tmp_path / "kiosk-web.log")
    context = browser.new_context(viewport={"width": 800, "height": 480})
    try:
        page = context.new_page()
        page.goto(web.url)
        k = Kiosk(page, daemon, web)
        k.wait_screen("place")
        k.insert()
        page.wait_for_selector("#overlay-timeout:not([hidden])", timeout=30_000)     # 6 s before the end
        assert re.search(r"あと \d+ 秒で受付を中止します", page.locator("#timeout-left").inner_text())
        k.shot("17-timeout-warning")
        k.tap("#btn-still-here")
        page.wait_for_selector("#overlay-timeout", state="hidden")
        assert daemon.kiosk.call("kiosk.current")["timeout"]["seconds_left"] > 6
        page.wait_for_selector("#overlay-timeout:not([hidden])", timeout=30_000)
        assert daemon.event("session.aborted")["reason"] == "idle_timeout"
        k.wait_screen("take")
        assert "操作がなかったため中止しました" in k.text()
    finally:
        context.close()
        web.close()
        daemon.card("remove")
        daemon.close()
