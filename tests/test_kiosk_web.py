"""The patient's web kiosk in a real browser: Debian's chromium driven by Playwright, against the real daemon on
the bench devices (pcscd + vpcd + the virtual card, the bench camera), through `mynareader kiosk-web`.

Whole receptions are driven from the page; what the reader really did is read from the reception socket and the
virtual card's counters. MYNAREADER_KIOSK_SHOTS=docs/kiosk also writes a screenshot of each screen in Japanese
and English (tests/kiosk_shots.py lists them for the README).
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from daemon_process import BenchDaemon

pytestmark = pytest.mark.pcscd

playwright_api = pytest.importorskip("playwright.sync_api", reason="make test installs playwright (dev extras)")

CHROMIUM = "/usr/bin/chromium"
EXE = str(Path(sys.executable).with_name("mynareader"))
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SHOTS = os.environ.get("MYNAREADER_KIOSK_SHOTS")
MIN_TEXT_PX = 24
MIN_TOUCH_PX = 57          # 15 mm at 96 CSS px per inch


class KioskWeb:
    """`mynareader kiosk-web` as a process on a free port."""

    def __init__(self, kiosk_socket: str, log: Path):
        self.log = open(log, "w")
        self.proc = subprocess.Popen([EXE, "kiosk-web", "--socket", kiosk_socket, "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"kiosk-web did not start: {line!r} {log.read_text()}"
        self.url = match.group(0)
        self.port = int(match.group(1))

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: make test installs it (APT_PACKAGES)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def bench(pcscd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kioskweb")
    daemon = BenchDaemon(tmp)
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


class Kiosk:
    def __init__(self, page, daemon: BenchDaemon, web: KioskWeb):
        self.page, self.daemon, self.web = page, daemon, web

    def wait_screen(self, name: str, timeout: float = 60_000) -> None:
        self.page.wait_for_selector(f"#screen-{name}:not([hidden])", timeout=timeout)

    def screen(self) -> str:
        return self.page.locator(".screen:not([hidden])").get_attribute("id").removeprefix("screen-")

    def text(self) -> str:
        return self.page.locator("main").inner_text()

    def tap(self, selector: str) -> None:
        self.page.locator(selector).click()

    def insert(self, profile: str = "fresh") -> None:
        assert self.daemon.card(f"insert {profile}") == "ok"
        self.wait_screen("method")

    def enter_pin(self, pin: str) -> None:
        for digit in pin:
            self.tap(f'.key[data-digit="{digit}"]')
        self.page.wait_for_selector(".dot.filled:nth-child(4)")
        assert pin not in self.page.content()
        self.tap("#key-enter")

    def shot(self, name: str) -> None:
        """With MYNAREADER_KIOSK_SHOTS: this screen, in Japanese and in English."""
        if not SHOTS:
            return
        out = Path(SHOTS)
        out.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(out / f"{name}-ja.png"))
        self.tap("#btn-lang")
        self.page.wait_for_selector("html[lang=en]")
        self.page.screenshot(path=str(out / f"{name}-en.png"))
        self.tap("#btn-lang")
        self.page.wait_for_selector("html[lang=ja]")

    def check_readable(self) -> None:
        """Every visible text at least 24 px; every visible button at least 15 mm both ways."""
        found = self.page.evaluate("""async ([minText, minTouch]) => {
            await document.fonts.ready;
            const bad = [];
            const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0
                && getComputedStyle(el).visibility !== 'hidden'; };
            for (const el of document.querySelectorAll('body *')) {
                if (!visible(el)) continue;
                const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
                const size = parseFloat(getComputedStyle(el).fontSize);
                if (own && size < minText) bad.push(`text ${size}px: ${el.textContent.trim().slice(0, 30)}`);
                if (el.tagName === 'BUTTON') {
                    const r = el.getBoundingClientRect();
                    if (r.width < minTouch || r.height < minTouch)
                        bad.push(`button ${Math.round(r.width)}x${Math.round(r.height)}: ${el.textContent.trim()}`);
                }
            }
            const font = getComputedStyle(document.body).fontFamily;
            const loaded = Array.from(document.fonts).some(f => f.family.replace(/"/g, '') === 'KioskUI'
                                                               && f.status === 'loaded');
            return {bad, font, loaded};
        }""", [MIN_TEXT_PX, MIN_TOUCH_PX])
        assert not found["bad"], found["bad"]
        assert found["font"].replace('"', '').startswith("KioskUI") and found["loaded"], found


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
    asked: list[dict] = []

    def texts(route):
        body = route.fetch().json()
        route.fulfill(json={**body, "voice": {"ja": True, "en": True}})

    def voice(route):
        asked.append(route.request.post_data_json)
        route.fulfill(status=204)
    kiosk.page.route("**/texts.json", texts)
    kiosk.page.route("**/voice", voice)
    kiosk.page.reload()
    kiosk.wait_screen("place")
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
