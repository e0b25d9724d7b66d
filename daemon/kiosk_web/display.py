"""The browser on the touchscreen, kept showing the patient's page (``mynareader kiosk-display``).

A crashed tab ("Aw, Snap": the renderer killed by the kernel's OOM killer or a GPU fault) leaves the browser process
running, so systemd never notices and the patient faces a sad-face page. This supervisor starts the browser with
the DevTools protocol on a pipe (``--remote-debugging-pipe``: fds 3 and 4, nothing listens on a port), watches the
page, and loads it again when its renderer crashes (a new renderer comes up in well under a second) or when the tab
shows something else than the patient's page for a few seconds (an error page after kiosk-web was restarted, or
a blank tab whose first load was lost: chromium never retries either by itself). A page that
stops answering cannot be loaded again in its stuck renderer, so then the supervisor ends the browser; when the
browser ends, for that reason or its own, so does the supervisor: cage ends with it and systemd starts the display
again (mynareader-kiosk-display.service, RestartSec=2).
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import selectors
import subprocess
import time
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PROBE_EVERY = 3.0       # seconds between "are you there?" questions to the page
HUNG_AFTER = 6.0        # a page that has not answered for this long: restart the browser (--hung-after)
ELSEWHERE_AFTER = 5.0   # seconds the tab may show another page than the patient's before it is loaded again


class BrowserGone(Exception):
    """The browser process ended or closed its DevTools pipe."""


class DevTools:
    """The DevTools protocol over the browser's pipe: one JSON message per NUL-terminated line."""

    def __init__(self, to_browser: int, from_browser: int):
        self._out, self._in = to_browser, from_browser
        self._buf = b""
        self._ids = itertools.count(1)
        self._sel = selectors.DefaultSelector()
        self._sel.register(from_browser, selectors.EVENT_READ)

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        msg: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._out, json.dumps(msg).encode() + b"\0")
        except OSError:
            raise BrowserGone() from None
        return msg["id"]

    def receive(self, timeout: float) -> dict | None:
        """The next message, or None when none came within ``timeout``."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(left):
                return None
            chunk = os.read(self._in, 65536)
            if not chunk:
                raise BrowserGone()
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)


def start_browser(command: list[str]) -> tuple[subprocess.Popen, DevTools]:
    """The browser with its DevTools pipe on fds 3 (commands in) and 4 (answers out), as Chromium expects."""
    cmd_r, cmd_w = os.pipe()
    ans_r, ans_w = os.pipe()

    def child_fds() -> None:        # runs in the child before exec: move the pipe ends to 3 and 4
        os.dup2(cmd_r, 3)
        os.dup2(ans_w, 4)

    proc = subprocess.Popen([*command, "--remote-debugging-pipe"], preexec_fn=child_fds, pass_fds=(3, 4))
    os.close(cmd_r)
    os.close(ans_w)
    return proc, DevTools(cmd_w, ans_r)


class PageWatch:
    """Attaches to the page and loads ``url`` again when it crashes or hangs."""

    def __init__(self, tools: DevTools, url: str, hung_after: float = HUNG_AFTER):
        self.tools, self.url, self.hung_after = tools, url, hung_after
        self.session: str | None = None
        self.target: str | None = None
        self.pending = False        # a reload waits for the page to be attached again
        self.waiting: int | None = None     # the question in flight, asked at ``asked``
        self.asked = time.monotonic()
        parts = urlsplit(url)
        self.origin = f"{parts.scheme}://{parts.netloc}/"
        self.elsewhere: float | None = None     # since when the tab shows another page than the patient's

    def run(self) -> None:
        t = self.tools
        t.send("Target.setDiscoverTargets", {"discover": True})
        while True:
            msg = t.receive(PROBE_EVERY / 3)
            now = time.monotonic()
            if msg is not None:
                if self.waiting is not None and msg.get("id") == self.waiting:
                    self.waiting = None
                    self._shown(msg.get("result", {}).get("result", {}).get("value"), now)
                self._handle(msg)
            if self.waiting is not None and now - self.asked > self.hung_after:
                log.error("the patient's page stopped answering for %g s: restarting the browser", self.hung_after,
                          extra={"EVENT": "kiosk_display_restart"})
                raise BrowserGone()
            if self.session is not None and self.waiting is None and now - self.asked >= PROBE_EVERY:
                self._ask("Runtime.evaluate", {"expression": "location.href"}, self.session)

    def _shown(self, href: Any, now: float) -> None:
        """The page's answer to the probe: where the tab is. An error page says chrome-error://, a blank tab
        about:blank; after ELSEWHERE_AFTER seconds of that (a page may pass through about:blank as it loads),
        the patient's page is loaded again, and again every ELSEWHERE_AFTER seconds until it shows."""
        if not isinstance(href, str):
            return
        if href.startswith(self.origin):
            self.elsewhere = None
        elif self.elsewhere is None:
            self.elsewhere = now
        elif now - self.elsewhere >= ELSEWHERE_AFTER:
            self.elsewhere = now
            self._reload(f"the tab showed another page ({urlsplit(href).scheme}:)")

    def _ask(self, method: str, params: dict, session: str | None = None) -> None:
        """A question the page (or the browser about the page) must answer within ``hung_after``."""
        self.waiting, self.asked = self.tools.send(method, params, session), time.monotonic()

    def _attach(self, target: str) -> None:
        self.target = target
        self._ask("Target.attachToTarget", {"targetId": target, "flatten": True})

    def _handle(self, msg: dict) -> None:
        """Follow the page target: attach to it, and load it again when it crashes."""
        method, params = msg.get("method"), msg.get("params", {})
        if method in ("Target.targetCreated", "Target.targetInfoChanged"):
            info = params.get("targetInfo", {})
            if info.get("type") == "page" and not info.get("attached") and self.waiting is None:
                self._attach(info["targetId"])
        elif method == "Target.attachedToTarget" and params.get("targetInfo", {}).get("type") == "page":
            self.session, self.target = params["sessionId"], params["targetInfo"]["targetId"]
            self.tools.send("Inspector.enable", {}, self.session)
            if self.pending:
                self.pending = False
                self.tools.send("Page.navigate", {"url": self.url}, self.session)
        elif method == "Inspector.targetCrashed" and msg.get("sessionId") == self.session or \
                method == "Target.targetCrashed" and params.get("targetId") == self.target and not self.session:
            self._reload("its renderer crashed")    # one crash, two reports: the page's when attached
        elif method == "Target.detachedFromTarget" and params.get("sessionId") == self.session:
            self.session = None

    def _reload(self, why: str) -> None:
        log.warning("the patient's page was loaded again: %s", why, extra={"EVENT": "kiosk_page_reloaded"})
        self.waiting = None                 # the crashed renderer will not answer what it was asked
        if self.session is not None:
            self._ask("Page.navigate", {"url": self.url}, self.session)
        elif self.target is not None:       # the crash detached us: attach again, then load
            self.pending = True
            self._attach(self.target)


def supervise(url: str, command: list[str], hung_after: float = HUNG_AFTER) -> int:
    """Run the browser until it ends (the exit status for systemd: never 0, the display should come back)."""
    proc, tools = start_browser(command)
    try:
        PageWatch(tools, url, hung_after).run()
    except BrowserGone:
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log.warning("the browser ended (status %s); the display unit starts it again", proc.returncode,
                extra={"EVENT": "kiosk_display_ended"})
    return 1
