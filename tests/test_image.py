"""The reader image as a whole system: the qemu-amd64 image boots under QEMU (TCG) with the bench devices passed
at boot, and everything a reader is made of starts together (make image-test; docs/image.md).

Skipped unless MYNAREADER_IMAGE names a built image directory (build/image/qemu-amd64): building one needs root,
mmdebstrap and a few minutes. The patient's screen on a virtual display is its own, slower test
(make image-display-test, MYNAREADER_IMAGE_DISPLAY=1).
"""
from __future__ import annotations

import datetime as dt
import os
import re
import ssl
import time
from pathlib import Path

import pytest

from helpers.qemu_guest import REPO, Guest
from helpers.tls import TlsClient

pytestmark = pytest.mark.image
BOOT_TIMEOUT = 900          # seconds: TCG on a busy 2-core machine; about 2 minutes when it is quiet
READER_UNITS = {"mynareader.service", "mynareader-reception.socket", "mynareader-kiosk.socket",
                "mynareader-kiosk-web.service", "mynareader-firstboot.service", "mynareader-kiosk-display.service",
                "mynareader-health.service"}


def image_dir() -> Path:
    return Path(os.environ.get("MYNAREADER_IMAGE", REPO / "build" / "image" / "qemu-amd64")).resolve()


def documented_exposure() -> dict[str, str]:
    """docs/image.md's table of `systemd-analyze security` figures in the booted image: unit -> "2.1 OK"."""
    text = (REPO / "docs" / "image.md").read_text()
    return dict(re.findall(r"^\| `(mynareader[\w.-]+)` \| ([\d.]+ [A-Z]+) \|", text, re.M))


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    # headless: the display unit is masked for this boot (no GPU); image-display-test boots it with one
    g = Guest(image_dir(), tmp_path_factory.mktemp("guest"),
              extra_cmdline="systemd.mask=mynareader-kiosk-display.service")
    try:
        g.wait_for("ready", BOOT_TIMEOUT)
        yield g
    finally:
        g.close()


def test_the_system_is_running_with_no_failed_unit(guest):
    assert guest.facts["state"] == ["running"]
    assert "failed" not in guest.facts, guest.facts.get("failed")


def test_every_reader_unit_is_active(guest):
    units = {unit: rest for unit, _, rest in (v.partition(" ") for v in guest.facts["unit"])}
    assert set(units) == READER_UNITS
    for unit in READER_UNITS - {"mynareader-kiosk-display.service"}:
        assert units[unit] == "enabled active", unit
    assert units["mynareader-kiosk-display.service"] == "masked-runtime inactive"  # this boot's mask: no display


def assert_exposure_as_documented(g: Guest, units: set[str]) -> None:
    measured = {unit: figure for unit, _, figure in (v.partition(" ") for v in g.facts["security"])}
    documented = documented_exposure()
    assert units <= set(documented), f"docs/image.md's exposure table lacks {units - set(documented)}"
    for unit in units:
        assert measured[unit] == documented[unit], \
            f"{unit}: measured {measured[unit]!r}, docs/image.md says {documented[unit]!r}"


def test_exposure_is_what_the_docs_say(guest):
    assert_exposure_as_documented(guest, {"mynareader.service", "mynareader-kiosk-web.service"})


def test_first_boot_made_the_store_and_the_ca(guest):
    """Made in the guest, never in the image: the build's data partition and system slot hold none of them."""
    assert guest.facts["marker"] == ["present"]
    assert guest.facts["firstflag"] == ["gone"]
    assert "CN=mynareader CA" in guest.facts["ca"][0]
    build = image_dir()
    assert (build / "data" / ".first-boot").exists()
    assert not (build / "data" / "mynareader.store-id").exists()
    assert not (build / "data" / "etc-mynareader" / "tls").exists()
    assert not (build / "rootfs" / "etc" / "mynareader" / "tls").exists()
    assert list((build / "data" / "mynareader").iterdir()) == []


def test_kiosk_web_opens_its_websocket_to_the_screen_user_only(guest):
    seen = dict(v.split(" ", 1) for v in guest.facts["kiosk-web"])
    page, size, ws = (part.split("=")[1] for part in seen["mynareader-display"].split())
    assert (page, ws) == ("200", "101") and int(size) > 500
    assert seen["nobody"].split()[2] == "ws=403"       # the page itself is public, the WebSocket is not


def test_one_reception_over_the_mutual_tls_transport(guest, tmp_path):
    for name, data in guest.files().items():
        (tmp_path / name).write_bytes(data)

    def connect(role: str) -> TlsClient:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        ctx.load_cert_chain(str(tmp_path / f"image-test-{role}.pem"), str(tmp_path / f"image-test-{role}.key"))
        return TlsClient(guest.port, ctx, timeout=60)

    with connect("reception") as desk, connect("kiosk") as screen:
        assert desk.call("hello")["result"]["role"] == "reception"
        assert screen.call("hello")["result"]["role"] == "kiosk"
        assert desk.call("subscribe", events=["result"])["result"]["subscribed"] == ["result"]

        def wait_state(state: str, timeout: float = 120) -> None:
            deadline = time.monotonic() + timeout
            current = None
            while time.monotonic() < deadline:
                current = screen.call("kiosk.current")["result"]["state"]
                if current == state:
                    return
                time.sleep(0.5)
            raise AssertionError(f"the reader stayed in {current!r}, not {state!r}")

        wait_state("choose_method")           # the virtual card is in the reader from the start
        assert "error" not in screen.call("kiosk.choose_method", method="pin")
        wait_state("pin_entry")
        assert "error" not in screen.call("kiosk.submit_pin", pin="1234")
        wait_state("consent")
        assert "error" not in screen.call("kiosk.answer", screen="comprehensive", answer="agree")
        event = desk.read()
        while event is not None and event.get("method") != "result":
            event = desk.read()
        assert event is not None, "the reader closed the reception connection"
        result = event["params"]
        assert result["type"] == "reception" and result["identity"]["method"] == "pin", result
        assert result["qualification_only"] is False


@pytest.mark.skipif(not os.environ.get("MYNAREADER_IMAGE_DISPLAY"), reason="make image-display-test")
def test_the_kiosk_page_on_a_display(tmp_path):
    """cage + chromium on a virtio-gpu display: the screen QEMU shows is saved (build/image/.../kiosk-screen.png)
    and must be the page, not a console: many colours, most of the screen light."""
    import numpy
    from PIL import Image
    g = Guest(image_dir(), tmp_path, display=True, memory=3072)
    try:
        g.wait_for("ready", BOOT_TIMEOUT)
        units = {unit: rest for unit, _, rest in (v.partition(" ") for v in g.facts["unit"])}
        assert units["mynareader-kiosk-display.service"].startswith("enabled activ")   # starting, or started
        assert_exposure_as_documented(g, {"mynareader-kiosk-display.service"})
        deadline = time.monotonic() + 600          # chromium's first paint under TCG takes minutes
        out = image_dir() / "kiosk-screen.png"
        while True:
            ppm = tmp_path / "screen.ppm"
            assert "error" not in g.qmp("screendump", filename=str(ppm))
            time.sleep(1)
            picture = Image.open(ppm).convert("RGB")
            colours = len(picture.getcolors(1 << 20) or [])
            light = float((numpy.asarray(picture).sum(axis=2) > 600).mean())
            if colours > 50 and light > 0.5:
                break
            assert time.monotonic() < deadline, (f"the screen never showed the page ({colours} colours, {light:.0%} "
                                                 f"light); the display unit: {g.facts.get('display', ['?'])[-1]}; "
                                                 f"processes: {g.facts.get('process', [])[-6:]}")
            time.sleep(10)
        picture.save(out)
        assert picture.size == (1280, 800)
    finally:
        g.close()


@pytest.mark.skipif(not os.environ.get("MYNAREADER_IMAGE_ARM64"), reason="make image-arm64-test")
def test_arm64_boots_to_multi_user_with_the_reader_active(tmp_path):
    """The Pi 4's system (arm64 kernel and packages) on QEMU's virt machine, from the qemu-arm64 image."""
    g = Guest(Path(os.environ["MYNAREADER_IMAGE_ARM64"]).resolve(), tmp_path, arch="arm64",
              extra_cmdline="systemd.mask=mynareader-kiosk-display.service")
    try:
        g.wait_for("ready", BOOT_TIMEOUT)
        assert g.facts["state"] == ["running"] and "failed" not in g.facts, g.facts
        units = {unit: rest for unit, _, rest in (v.partition(" ") for v in g.facts["unit"])}
        assert units["mynareader.service"] == "enabled active"
        assert units["mynareader-kiosk-web.service"] == "enabled active"
        assert g.facts["marker"] == ["present"]
    finally:
        g.close()
