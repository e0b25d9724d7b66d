"""The touchscreen's browser under `mynareader kiosk-display`: Debian's chromium (headless here, cage on a reader)
showing the patient's page from kiosk-web in front of the bench daemon. A killed renderer ("Aw, Snap") and a page
that stops answering are loaded again, and the supervisor ends when the browser does (systemd restarts it)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers.daemon_process import BenchDaemon
from helpers.kiosk_page import ARGS, CHROMIUM, EXE, KioskWeb

pytestmark = pytest.mark.pcscd


@pytest.fixture(scope="module")
def web(pcscd, tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: make test installs it (the Makefile's TEST_PACKAGES)")
    tmp = tmp_path_factory.mktemp("kioskdisplay")
    daemon = BenchDaemon(tmp)
    daemon.kiosk.call("hello")
    web = KioskWeb(daemon.kiosk_path, tmp / "kiosk-web.log")
    yield web, tmp / "kiosk-web.log"
    web.close()
    daemon.close()


def pages_connected(log: Path) -> int:
    return log.read_text().count("a patient page connected")


def wait_for(check, timeout: float, what: str) -> float:
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout, what
        time.sleep(0.1)
    return time.monotonic() - t0


def renderers(root: int) -> list[int]:
    """The browser's renderer processes (its descendants started with --type=renderer)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()     # (chromium rewrites it: one string at times)
        except OSError:
            continue
        if b"--type=renderer" in cmd and b"--extension-process" not in cmd and _descends(int(pid), root):
            found.append(int(pid))
    return found


def _descends(pid: int, root: int) -> bool:
    while pid > 1:
        if pid == root:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def start_display(url: str, tmp_path: Path, first: str) -> subprocess.Popen:
    """The supervisor watching ``url``, its browser opening ``first``."""
    with open(tmp_path / "display.log", "w") as out:
        return subprocess.Popen([EXE, "kiosk-display", "--url", url, "--", CHROMIUM, *ARGS, "--log-level=3",
                                 f"--user-data-dir={tmp_path / 'profile'}", first],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop_display(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(20)
    os.killpg(proc.pid, signal.SIGKILL) if _alive_group(proc.pid) else None


@pytest.fixture
def display(web, tmp_path):
    server, log = web
    before = pages_connected(log)
    proc = start_display(server.url, tmp_path, server.url)
    wait_for(lambda: pages_connected(log) > before, 60, "the page never connected")
    yield proc, log, tmp_path / "display.log"
    stop_display(proc)


def _alive_group(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_a_crashed_tab_is_loaded_again_within_ten_seconds(display):
    proc, log, out = display
    for crash in range(2):          # and again: it is not a one-off
        connected = pages_connected(log)
        victims = renderers(proc.pid)
        assert victims, "no renderer found"
        for pid in victims:
            os.kill(pid, signal.SIGKILL)       # what the OOM killer does to a tab
        took = wait_for(lambda: pages_connected(log) > connected, 10, out.read_text())
        print(f"crash {crash + 1}: the page was back in {took:.1f} s")
        assert "its renderer crashed" in out.read_text()
    assert proc.poll() is None


def test_a_tab_that_shows_another_page_is_loaded_again(web, tmp_path):
    """The browser started while nothing answered (kiosk-web restarting): its tab holds an error page, which
    chromium never retries by itself; the supervisor loads the patient's page again."""
    server, log = web
    before = pages_connected(log)
    proc = start_display(server.url, tmp_path, "http://127.0.0.1:9/")      # the discard port: refused
    try:
        took = wait_for(lambda: pages_connected(log) > before, 60, (tmp_path / "display.log").read_text())
        print(f"the patient's page replaced the error page after {took:.1f} s")
        assert "the tab showed another page (chrome-error:)" in (tmp_path / "display.log").read_text()
        assert proc.poll() is None
    finally:
        stop_display(proc)


def test_a_tab_that_stops_answering_ends_the_browser_for_systemd_to_restart(display):
    proc, log, out = display
    for pid in renderers(proc.pid):
        os.kill(pid, signal.SIGSTOP)           # a page stuck in a loop, as the supervisor sees it
    t0 = time.monotonic()
    wait_for(lambda: proc.poll() is not None, 30, out.read_text())
    assert proc.returncode == 1
    print(f"a hung page ended the browser after {time.monotonic() - t0:.1f} s")
    assert "stopped answering" in out.read_text() and "the browser ended" in out.read_text()


def test_when_the_browser_ends_the_supervisor_ends_for_systemd_to_restart(display):
    proc, log, out = display
    browser = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _parent(int(p)) == proc.pid)
    os.kill(browser, signal.SIGKILL)
    assert proc.wait(30) == 1
    assert "the browser ended" in out.read_text()


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1
