"""The patient's web kiosk in a real browser: Debian's chromium driven by Playwright, against the real daemon on
the bench devices (pcscd + vpcd + the virtual card, the bench camera), through `mynareader kiosk-web`.

Whole receptions are driven from the page; what the reader really did is read from the reception socket and the
virtual card's counters. KIOSK_SCREENSHOTS=docs/kiosk also writes a screenshot of each screen in Japanese
and English (tests/kiosk_shots.py lists them for the README).
"""
from __future__ import annotations

import json
import re

import pytest

from helpers.daemon_process import BenchDaemon
from helpers.kiosk_page import MIN_TEXT_PX, SHOTS, Kiosk, KioskWeb, browser  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.pcscd

@pytest.fixture(scope="module")
def bench(pcscd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kioskweb")
    daemon = BenchDaemon(tmp)
    daemon.kiosk.call("hello")          # a client that has spoken may stay silent (the module outlives 30 s)
    web = KioskWeb(daemon.kiosk_path, tmp / "kiosk-web.log")
    yield daemon, web
    web.close()
    daemon.close()
    log = (tmp / "kiosk-web.log").read_text()
    assert "Traceback" not in log, log


@pytest.fixture
def kiosk(bench, browser):
    daemon, web = bench
    context = browser.new_context(viewport={"width": 800, "height": 480}, locale="ja-JP")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(web.url)
    k = Kiosk(page, daemon, web)
    k.wait_screen("place")
    yield k
    # leave the reader empty for the next test
    daemon.card("remove")
    daemon.wait_state("idle")
    daemon.reception.events.clear()
    context.close()
    assert not errors, errors


def result_of(daemon: BenchDaemon) -> dict:
    return daemon.event("result", timeout=60)


def tries(daemon: BenchDaemon) -> int:
    return int(re.search(r"\bpin=(\d+)", daemon.card("status")).group(1))


# -- whole receptions ----------------------------------------------------------------------------------------------
def test_face_path_with_item_by_item_consent_reaches_reception(kiosk):
    kiosk.shot("01-place-card")
    kiosk.check_readable()
    kiosk.insert()
    kiosk.shot("03-choose-method")
    kiosk.check_readable()
    kiosk.daemon.camera("noface")                       # the patient is not in front of the camera yet
    kiosk.tap("#opt-face")
    kiosk.wait_screen("face")
    kiosk.page.wait_for_function("document.querySelector('#screen-face .step-text').textContent.length > 0")
    kiosk.shot("05-face")
    kiosk.check_readable()
    kiosk.daemon.camera("show holder")
    kiosk.wait_screen("question")
    kiosk.shot("07-consent-comprehensive")
    kiosk.check_readable()
    # the comprehensive screen (包括同意) and its buttons come from the consent catalogue
    assert "過去の診療・お薬・手術・健診の情報" in kiosk.text() and "個別に選択する" in kiosk.text()
    kiosk.tap("#opt-individual")
    kiosk.page.wait_for_selector("text=過去の診療・お薬の情報を提供することに同意しますか。")
    kiosk.shot("08-consent-item")
    kiosk.tap("#opt-agree")                              # diagnosis/medication
    kiosk.page.wait_for_selector("text=過去の手術の情報を提供することに同意しますか。")
    kiosk.tap("#opt-refuse")                             # surgery
    kiosk.page.wait_for_selector("text=同意しない・40歳未満")
    kiosk.tap("#opt-refuse")                             # health check-up
    result = result_of(kiosk.daemon)
    kiosk.wait_screen("take")
    kiosk.shot("12-done-take-card")
    kiosk.check_readable()
    assert result["identity"]["method"] == "face"
    assert {c["item"]: c["value"] for c in result["consents"]} == \
        {"diagnosis_medication": True, "surgery": False, "health_checkup": False}
    assert {c["via"] for c in result["consents"]} == {"individual"}
    assert "確認が完了しました" in kiosk.text()


def test_the_page_lights_the_face_with_the_readers_colours(kiosk):
    """The face check's colours (guidance "flash"): the page fills the screen with each one and tells the reader
    when the first is painted; the bench camera sees the face lit by them and the light check passes."""
    kiosk.insert()
    kiosk.daemon.camera("noface")
    kiosk.tap("#opt-face")
    kiosk.wait_screen("face")
    kiosk.page.evaluate("""() => { const box = document.querySelector('#flash'); window.__flash = [];
        new MutationObserver(() => { if (!box.hidden) window.__flash.push(getComputedStyle(box).backgroundColor); })
          .observe(box, {attributes: true, attributeFilter: ['style', 'hidden']}); }""")
    kiosk.daemon.camera("show holder")
    kiosk.wait_screen("question")
    assert kiosk.page.locator("#flash").is_hidden()             # back to the page after the sequence
    colours = set(kiosk.page.evaluate("() => window.__flash"))
    assert len(colours) >= 2 and all(c.startswith("rgb(") for c in colours)
    assert "flash_not_shown" not in kiosk.daemon.log_text()      # the reader got "shown" in time: no fallback
    kiosk.tap("#opt-agree")
    assert result_of(kiosk.daemon)["identity"]["method"] == "face"


def test_pin_path_wrong_pin_shows_the_cards_tries_then_succeeds(kiosk):
    kiosk.insert()
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    assert "残り 3 回" in kiosk.text() and tries(kiosk.daemon) == 3
    kiosk.page.locator('.key[data-digit="9"]').click()
    kiosk.page.locator('.key[data-digit="8"]').click()
    kiosk.shot("06-pin")
    kiosk.check_readable()
    kiosk.tap("#key-clear")
    kiosk.tap("#key-clear")
    kiosk.enter_pin("9876")
    kiosk.page.wait_for_selector("#notice:has-text('暗証番号が違います')")
    kiosk.wait_screen("pin")
    kiosk.page.wait_for_selector("#pin-tries:has-text('残り 2 回')")
    assert tries(kiosk.daemon) == 2                      # the page shows what the card counts
    kiosk.shot("06-pin-wrong")
    kiosk.enter_pin("1234")
    kiosk.wait_screen("question")
    assert tries(kiosk.daemon) == 3
    kiosk.tap("#opt-agree")
    result = result_of(kiosk.daemon)
    assert result["identity"]["method"] == "pin" and len(result["consents"]) == 3
    kiosk.wait_screen("take")
    html = kiosk.page.content()
    assert "9876" not in html and "1234" not in html
    storage = kiosk.page.evaluate("JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), "
                                  "location.href])")
    assert "9876" not in storage and "1234" not in storage


def test_last_try_asks_for_confirmation_before_anything_reaches_the_card(kiosk):
    kiosk.insert("last-try")
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    assert "あと1回間違えると" in kiosk.text() and "残り 1 回" in kiosk.text()
    for digit in "1234":
        kiosk.tap(f'.key[data-digit="{digit}"]')
    kiosk.tap("#key-enter")
    kiosk.page.wait_for_selector("#overlay-last-try:not([hidden])")
    kiosk.shot("06-pin-last-try")
    kiosk.check_readable()
    assert tries(kiosk.daemon) == 1                      # nothing was sent before the confirmation
    kiosk.tap("#btn-last-try-go")
    kiosk.wait_screen("question")
    assert tries(kiosk.daemon) == 3
    kiosk.tap("#opt-agree")
    assert result_of(kiosk.daemon)["identity"]["method"] == "pin"


def test_forgot_pin_calls_staff_and_waits_for_visual_check(kiosk):
    kiosk.insert()
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    kiosk.tap("#btn-forgot")
    called = kiosk.daemon.event("staff.called")
    assert called["reason"] == "forgot_pin" and called["state"] == "pin_entry"
    kiosk.wait_screen("visual")
    kiosk.shot("10-visual-wait")
    kiosk.check_readable()
    assert tries(kiosk.daemon) == 3
    kiosk.daemon.reception.call("session.confirm_visual", staff="受付1")
    kiosk.wait_screen("question")
    kiosk.tap("#opt-agree")
    assert result_of(kiosk.daemon)["identity"]["method"] == "visual"


def test_cancel_from_the_page(kiosk):
    kiosk.insert()
    kiosk.tap("#btn-cancel")
    aborted = kiosk.daemon.event("session.aborted")
    assert aborted["reason"] == "cancelled_by_patient"
    kiosk.wait_screen("take")
    kiosk.shot("13-cancelled")
    assert "受付を中止しました" in kiosk.text()


def test_card_pulled_mid_way(kiosk):
    kiosk.insert()
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    kiosk.tap('.key[data-digit="1"]')
    kiosk.daemon.card("remove")
    assert kiosk.daemon.event("session.aborted")["reason"] == "card_removed"
    kiosk.wait_screen("removed")
    kiosk.shot("14-card-removed")
    kiosk.check_readable()
    kiosk.tap("#btn-removed-ok")
    kiosk.wait_screen("place")
    assert kiosk.page.locator(".dot.filled").count() == 0


def test_english_by_a_button_and_back_to_japanese_for_the_next_patient(kiosk):
    # the page's own English, never the browser's machine translation (its bubble covers the top bar)
    assert kiosk.page.evaluate("document.documentElement.translate") is False
    kiosk.tap("#btn-lang")
    kiosk.page.wait_for_selector("text=Please place your My Number Card")
    kiosk.insert()
    assert "Choose how to confirm it is you." in kiosk.text()
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    assert "3 tries left" in kiosk.text()
    kiosk.enter_pin("1234")
    kiosk.wait_screen("question")
    assert "Do you agree to share your past treatment" in kiosk.text() and "I agree" in kiosk.text()
    kiosk.tap("#opt-agree")
    result_of(kiosk.daemon)
    kiosk.wait_screen("take")
    assert "All done. Please take your card." in kiosk.text()
    kiosk.daemon.card("remove")
    kiosk.page.wait_for_selector("text=マイナンバーカードを置いてください")


def test_camera_gone_offers_the_pin(kiosk):
    kiosk.insert()
    kiosk.daemon.camera("unplug")
    try:
        kiosk.tap("#opt-face")
        kiosk.page.wait_for_selector("#method-reasons:has-text('カメラが使えません')", timeout=60_000)
        kiosk.wait_screen("method")
        assert kiosk.page.locator("#opt-face").count() == 0 and kiosk.page.locator("#opt-pin").count() == 1
        kiosk.shot("04-camera-gone")
    finally:
        kiosk.daemon.camera("replug")


def test_reader_fault_is_shown_and_the_session_ends(kiosk):
    kiosk.insert()
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    kiosk.daemon.card("fail 6F00")                       # the card's next answer is a fault
    kiosk.enter_pin("1234")
    kiosk.daemon.event("reader.fault")
    kiosk.wait_screen("take")
    kiosk.page.wait_for_selector("#notice.alert:not([hidden])")
    kiosk.shot("15-reader-fault")
    assert "カードを読み取れませんでした" in kiosk.text()
    assert tries(kiosk.daemon) == 3
    kiosk.page.reload()                                  # the banner comes from the reader, not the page's memory
    kiosk.wait_screen("take")
    kiosk.page.wait_for_selector("#notice.alert:not([hidden])")
    kiosk.daemon.card("remove")                          # the faulty card has gone: the next patient sees no banner
    kiosk.daemon.event("reader.recovered")
    kiosk.wait_screen("place")
    kiosk.page.wait_for_selector("#notice", state="hidden")


# -- beyond today's readers -----------------------------------------------------------------------------------------
def test_call_staff_from_any_screen_reaches_reception(kiosk):
    kiosk.tap("#btn-staff")                              # no card yet
    called = kiosk.daemon.event("staff.called")
    assert called == {**called, "session_id": None, "state": "idle", "reason": "help"}
    kiosk.page.wait_for_selector("#overlay-staff:not([hidden])")
    kiosk.shot("16-staff-called")
    kiosk.check_readable()
    kiosk.tap("#btn-staff-ok")
    kiosk.insert()
    kiosk.tap("#btn-staff")
    called = kiosk.daemon.event("staff.called")
    assert called["state"] == "choose_method" and called["session_id"]


def test_text_size_button(kiosk):
    size = lambda: kiosk.page.evaluate(  # noqa: E731
        "parseFloat(getComputedStyle(document.querySelector('#screen-place p')).fontSize)")
    before = size()
    kiosk.tap("#btn-size")
    kiosk.page.wait_for_selector("html.large")
    assert size() > before >= MIN_TEXT_PX
    kiosk.shot("02-large-text")
    kiosk.check_readable()
    kiosk.tap("#btn-size")


def test_reload_mid_session_comes_back_to_the_same_step(kiosk):
    kiosk.insert()
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    kiosk.enter_pin("9876")
    kiosk.page.wait_for_selector("#pin-tries:has-text('残り 2 回')")
    kiosk.page.reload()
    kiosk.wait_screen("pin")
    assert "残り 2 回" in kiosk.text() and kiosk.page.locator(".dot.filled").count() == 0
    kiosk.enter_pin("1234")                             # the reloaded page still drives the session
    kiosk.wait_screen("question")
    kiosk.page.reload()
    kiosk.wait_screen("question")
    kiosk.tap("#opt-agree")
    assert result_of(kiosk.daemon)["identity"]["method"] == "pin"


def test_registration_from_the_page(kiosk):
    kiosk.tap("#btn-register")
    kiosk.page.wait_for_selector("#register-armed:not([hidden])")
    kiosk.page.reload()                                  # armed on the reader, so still armed after a reload
    kiosk.wait_screen("place")
    kiosk.page.wait_for_selector("#register-armed:not([hidden])")
    kiosk.daemon.card("insert fresh")
    kiosk.wait_screen("method")
    assert kiosk.page.locator("#opt-face").count() == 0      # registration needs the PIN
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    kiosk.enter_pin("1234")
    kiosk.wait_screen("question")
    kiosk.shot("11-registration")
    assert "健康保険証として利用登録" in kiosk.text()
    kiosk.tap("#opt-agree")
    assert result_of(kiosk.daemon)["type"] == "registration"


def test_voice_reads_each_screen_and_says_one_digit_entered_never_the_digit(kiosk):
    """The page's side of voice (the engine is daemon/voice's): what it asks the server to say."""
    asked = kiosk.capture_voice()
    kiosk.insert()
    kiosk.page.wait_for_function("document.querySelector('#btn-repeat').hidden === false")
    kiosk.tap("#opt-pin")
    kiosk.wait_screen("pin")
    for digit in "5719":
        kiosk.tap(f'.key[data-digit="{digit}"]')
    kiosk.tap("#key-clear")
    kiosk.tap("#btn-repeat")
    kiosk.page.wait_for_function("document.querySelectorAll('.dot.filled').length === 3")
    kiosk.page.evaluate("fetch('/texts.json')")            # a round trip: the voice requests before it are in
    keys = [a.get("key") for a in asked]
    assert keys.count("pin_digit") == 4 and keys.count("pin_digit_deleted") == 1
    spoken = [a.get("text") for a in asked if a.get("text")]
    assert "本人確認の方法を選んでください。" in spoken and spoken.count("4桁の暗証番号を入力してください。") == 2
    assert not any(d in json.dumps(asked, ensure_ascii=False) for d in "5719")
    kiosk.tap("#btn-voice")                                 # voice off: nothing more is asked
    before = len(asked)
    kiosk.tap("#btn-repeat")
    kiosk.tap('.key[data-digit="2"]')
    kiosk.page.evaluate("fetch('/texts.json')")
    assert len(asked) == before
    kiosk.tap("#btn-voice")


@pytest.mark.skipif(not SHOTS, reason="only when writing the docs' screenshots (KIOSK_SCREENSHOTS)")
def test_screenshots_of_the_passing_screens(kiosk, tmp_path):
    """Screens the reader shows only while it works: a slow card (the bench's `hang`) holds them for the picture."""
    kiosk.daemon.card("hang 3")                          # the next card's first answer comes late
    kiosk.daemon.card("insert fresh")
    kiosk.wait_screen("working")
    kiosk.shot("02-reading")
    kiosk.wait_screen("method")
    kiosk.daemon.card("hang 3")                          # 照合番号B read; the card checks it slowly
    kiosk.tap("#opt-face")
    kiosk.page.wait_for_selector("#cardface-read:not([hidden])")
    kiosk.shot("04-card-face-read")
    kiosk.wait_screen("question")
    kiosk.daemon.card("remove")
    kiosk.wait_screen("removed")
    kiosk.tap("#btn-removed-ok")
    kiosk.tap("#btn-register")
    kiosk.page.wait_for_selector("#register-armed:not([hidden])")
    kiosk.shot("01-place-card-registration")
    kiosk.tap("#btn-register-back")
    down = KioskWeb(str(tmp_path / "no-reader.sock"), tmp_path / "down.log")
    try:
        kiosk.page.goto(down.url)
        kiosk.wait_screen("link")
        kiosk.shot("18-reader-not-connected")
    finally:
        down.close()
        kiosk.page.goto(kiosk.web.url)


# -- the boundary --------------------------------------------------------------------------------------------------
def test_the_page_cannot_reach_reception_methods(kiosk):
    kiosk.insert()
    replies = kiosk.page.evaluate("""() => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        const out = [];
        ws.onmessage = (ev) => { const m = JSON.parse(ev.data); if (m.type === 'reply') { out.push(m);
            if (out.length === 3) { ws.close(); resolve(out); } } };
        ws.onopen = () => {
            ws.send(JSON.stringify({id: 1, method: 'session.cancel'}));
            ws.send(JSON.stringify({id: 2, method: 'session.confirm_visual', params: {staff: 'x'}}));
            ws.send(JSON.stringify({id: 3, method: 'mode.set', params: {mode: 'other'}}));
        };
    })""")
    assert [r["error"]["name"] for r in sorted(replies, key=lambda r: r["id"])] == ["NotAllowed"] * 3
    assert kiosk.daemon.kiosk.call("kiosk.current")["state"] == "choose_method"


def test_websocket_from_another_origin_is_refused(bench):
    import asyncio
    import concurrent.futures
    import aiohttp
    _daemon, web = bench

    async def attempt(origin: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(f"{web.url}ws", headers={"Origin": origin}):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status
    with concurrent.futures.ThreadPoolExecutor(1) as pool:    # Playwright's loop runs in this thread
        run = lambda origin: pool.submit(asyncio.run, attempt(origin)).result(30)  # noqa: E731
        assert run("http://evil.example") == 403
        assert run("null") == 403
        assert run(f"http://127.0.0.1:{web.port}") == 101
