"""The phone screens of the patient's page in a real browser (Debian's chromium via Playwright), against the real
daemon with a phone reader beside the card reader (two vpcd slots through pcscd): the スマホ choice and its
guidance, the iPhone's unlock step, the Android PIN with the phone's own tries."""
from __future__ import annotations

import subprocess

import pytest

from mynareader.device.bench_control import send_control

from helpers.daemon_process import EXE, BenchDaemon
from helpers.kiosk_page import Kiosk, KioskWeb, browser  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.pcscd


@pytest.fixture(scope="module")
def bench(pcscd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kioskphone")
    control = str(tmp / "phone.sock")
    mock = subprocess.Popen([EXE, "mock", "card", "--vpcd", "127.0.0.1:35964", "--profile", "empty", "--state",
                             str(tmp / "phone"), "--control", control], stdout=subprocess.PIPE, text=True)
    assert "served to vpcd" in mock.stdout.readline()
    daemon = BenchDaemon(tmp, settings={"devices.reader": "pcsc://?reader=Virtual PCD 00 00",
                                        "devices.phone_reader": "pcsc://?reader=Virtual PCD 00 01"})
    daemon.kiosk.call("hello")
    web = KioskWeb(daemon.kiosk_path, tmp / "kiosk-web.log")
    yield daemon, web, lambda line: send_control(control, line)
    web.close()
    daemon.close()
    mock.terminate()
    mock.wait(10)
    log = (tmp / "kiosk-web.log").read_text()
    assert "Traceback" not in log, log


@pytest.fixture
def kiosk(bench, browser):
    daemon, web, phone = bench
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(web.url)
    k = Kiosk(page, daemon, web)
    k.phone = phone
    k.wait_screen("place")
    yield k
    phone("lock")                    # an iPhone unlocked here stays unlocked for a while: the next test starts locked
    phone("remove")
    daemon.wait_state("idle")
    daemon.reception.events.clear()
    context.close()
    assert not errors, errors


def test_iphone_chosen_then_told_to_unlock_then_signs(kiosk):
    kiosk.page.wait_for_selector("#btn-phone:not([hidden])")
    kiosk.tap("#btn-phone")
    kiosk.wait_screen("phone-choose")
    kiosk.shot("20-phone-choose")
    kiosk.tap("#opt-phone-iphone")
    kiosk.wait_screen("phone-how")
    assert "ロックを解除" in kiosk.text()
    kiosk.shot("21-phone-how-iphone")
    assert kiosk.phone("insert iphone") == "ok"                  # held while still locked
    kiosk.wait_screen("unlock")
    assert "iPhoneのロックを解除してください" in kiosk.text()
    kiosk.shot("22-phone-unlock")
    kiosk.check_readable()
    assert kiosk.phone("unlock 60") == "ok"
    kiosk.tap("#opt-device_unlock")
    kiosk.wait_screen("question")
    kiosk.tap("#opt-agree")
    result = kiosk.daemon.event("result", timeout=60)
    assert result["token"] == "iphone" and result["identity"]["method"] == "device_unlock"
    kiosk.wait_screen("take")


def test_android_chosen_then_its_own_pin_with_the_phones_tries(kiosk):
    kiosk.tap("#btn-phone")
    kiosk.tap("#opt-phone-android")
    kiosk.wait_screen("phone-how")
    assert "暗証番号" in kiosk.text()
    kiosk.tap("#btn-phone-how-back")                              # back to the card
    kiosk.wait_screen("place")
    kiosk.tap("#btn-phone")
    kiosk.tap("#opt-phone-android")
    assert kiosk.phone("insert android") == "ok"
    kiosk.wait_screen("pin")
    assert "残り 5 回" in kiosk.text() and "スマートフォン用電子証明書" in kiosk.text()
    assert kiosk.page.locator("#btn-pin-face").is_hidden()        # no face for a phone ...
    assert kiosk.page.locator("#btn-forgot").is_hidden()          # ... and no 目視 (help is in the top bar)
    kiosk.shot("23-phone-android-pin")
    kiosk.enter_pin("1234")
    kiosk.wait_screen("question")
    kiosk.tap("#opt-agree")
    result = kiosk.daemon.event("result", timeout=60)
    assert result["token"] == "android" and result["identity"]["method"] == "pin"
    assert "1234" not in kiosk.page.content()


def test_the_phone_screens_are_spoken(kiosk):
    """What the page asks the voice to say on the スマホ screens and the unlock step (the engine is daemon/voice's)."""
    asked = kiosk.capture_voice()
    kiosk.page.wait_for_selector("#btn-phone:not([hidden])")
    kiosk.tap("#btn-phone")
    kiosk.tap("#opt-phone-iphone")
    kiosk.wait_screen("phone-how")
    assert kiosk.phone("insert iphone") == "ok"
    kiosk.wait_screen("unlock")
    kiosk.page.evaluate("fetch('/texts.json')")            # a round trip: the voice requests before it are in
    spoken = " ".join(a.get("text") or "" for a in asked)
    assert "お使いのスマートフォンを選んでください" in spoken
    assert "iPhoneのロックを解除（Face ID または Touch ID）してから" in spoken
    assert "Face ID または Touch ID でロックを解除して、もう一度かざしてください" in spoken
