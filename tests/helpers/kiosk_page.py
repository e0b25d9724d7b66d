"""The patient's page in Debian's chromium, for the browser tests: the kiosk-web server as a process, the browser,
and a small driver with the checks every screen must pass (text size, touch targets, the UI font)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.daemon_process import BenchDaemon

playwright_api = pytest.importorskip("playwright.sync_api", reason="make test installs playwright (dev extras)")

CHROMIUM = "/usr/bin/chromium"
EXE = str(Path(sys.executable).with_name("mynareader"))
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
SHOTS = os.environ.get("KIOSK_SCREENSHOTS")
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
        pytest.fail("Debian's chromium is missing: make test installs it (the Makefile's TEST_PACKAGES)")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


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

    def capture_voice(self) -> list[dict]:
        """Reload the page with voice on for both languages, answering its requests to speak here: the list fills
        with what the page asks the server to say (the engine is daemon/voice's, tested on its own)."""
        asked: list[dict] = []

        def texts(route):
            body = route.fetch().json()
            route.fulfill(json={**body, "voice": {"ja": True, "en": True}})

        def voice(route):
            asked.append(route.request.post_data_json)
            route.fulfill(status=204)
        self.page.route("**/texts.json", texts)
        self.page.route("**/voice", voice)
        self.page.reload()
        self.wait_screen("place")
        return asked

    def enter_pin(self, pin: str) -> None:
        for digit in pin:
            self.tap(f'.key[data-digit="{digit}"]')
        self.page.wait_for_selector(".dot.filled:nth-child(4)")
        assert pin not in self.page.content()
        self.tap("#key-enter")

    def shot(self, name: str) -> None:
        """Every screen the tests reach comes here: its top bar must fit (check_top_bar); with KIOSK_SCREENSHOTS,
        a picture of it in Japanese and in English."""
        self.check_top_bar()
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

    def check_top_bar(self) -> None:
        """The top bar's six buttons, all shown, fit one row of the 800 px screen with every label on one line: in
        Japanese and English, at both text sizes, with voice on and off. Labels come from the page's own t(); the
        screen's state, its voice and the patient's choices are left as they were (nothing is clicked)."""
        bad = self.page.evaluate("""async () => {
            await document.fonts.ready;
            const tools = Array.from(document.querySelectorAll('.bar .tool'));
            const root = document.documentElement;
            const saved = {lang: prefs.lang, large: root.classList.contains('large'),
                           tools: tools.map(b => [b.hidden, b.textContent])};
            const bad = [];
            try {
                for (const lang of ['ja', 'en']) for (const large of [false, true]) for (const voice of ['voice_on', 'voice_off']) {
                    prefs.lang = lang;
                    root.classList.toggle('large', large);
                    for (const b of tools) { b.hidden = false; b.textContent = t(b.id === 'btn-voice' ? voice : b.dataset.t); }
                    const row = Math.round(tools[0].getBoundingClientRect().top);
                    for (const b of tools) {
                        const r = b.getBoundingClientRect(), range = document.createRange();
                        range.selectNodeContents(b);
                        const lines = new Set(Array.from(range.getClientRects()).map(x => Math.round(x.top))).size;
                        if (lines !== 1 || b.scrollWidth > b.clientWidth || r.right > window.innerWidth
                                || Math.round(r.top) !== row)
                            bad.push(`${lang}${large ? ' large' : ''} "${b.textContent}": ${lines} lines, ` +
                                     `x ${Math.round(r.left)}-${Math.round(r.right)}, y ${Math.round(r.top)}`);
                    }
                }
            } finally {
                prefs.lang = saved.lang;
                root.classList.toggle('large', saved.large);
                tools.forEach((b, i) => { [b.hidden, b.textContent] = saved.tools[i]; });
            }
            return bad;
        }""")
        assert self.page.viewport_size["width"] == 800 and not bad, bad
