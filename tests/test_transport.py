"""Reader URLs, the spy+ wrapper and presence detection of the in-process reader."""
import logging
import threading

import pytest

from mynareader.device.card import MyNumberCard
from mynareader.device.errors import BadDeviceUrl, NoCard
from mynareader.device.pin import Pin
from mynareader.device.registry import open_reader
from mynareader.device.transport import SpyTransport


def test_sim_url_profiles_and_errors(tmp_path):
    t = open_reader(f"sim://last-try?state={tmp_path}")
    assert t.slot.card.profile.name == "last-try"
    with pytest.raises(BadDeviceUrl, match="unknown virtual card profile"):
        open_reader("sim://nosuch")
    with pytest.raises(BadDeviceUrl, match="unknown reader URL scheme"):
        open_reader("usb://0")
    empty = open_reader(f"sim://empty?state={tmp_path}")
    assert not empty.card_present()
    with pytest.raises(NoCard):
        empty.connect()


def test_spy_logs_apdus_with_verify_redacted(tmp_path, caplog):
    t = open_reader(f"spy+sim://fresh?state={tmp_path}")
    assert isinstance(t, SpyTransport)
    card = MyNumberCard(t)
    with caplog.at_level(logging.INFO, logger="mynareader.device.transport"):
        card.connect()
        card.verify_pin(Pin("1234"))
    text = caplog.text
    assert "00 20 00 80 04 <redacted>" in text
    assert "31 32 33 34" not in text and "1234" not in text
    assert t.stats.apdus == 3


def test_presence_waits_for_insert_and_removal_without_polling(tmp_path):
    t = open_reader(f"sim://empty?state={tmp_path}")
    threading.Timer(0.2, lambda: t.slot.insert("fresh")).start()
    assert t.wait_for_change(False, 10)
    assert t.card_present()
    threading.Timer(0.2, t.slot.remove).start()
    assert t.wait_for_change(True, 10)
    assert not t.wait_for_change(False, 0.05)


def test_pin_never_shows_its_digits():
    pin = Pin("1234")
    assert "1234" not in repr(pin) and "1234" not in str(pin) and "1234" not in f"{pin}"
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(pin)
    pin.wipe()
    with pytest.raises(ValueError):
        pin.bytes_for_apdu()
    with pytest.raises(ValueError):
        Pin("12a4")


def test_spy_hides_nothing_it_wraps(tmp_path):
    """spy+sim:// keeps the bench slot (bench commands, the sim card-face source) reachable."""
    from mynareader.daemon.service.card_face import CardFaceSource
    spy = open_reader(f"spy+sim://fresh?state={tmp_path}")
    assert spy.slot is not None and spy.slot.control("status").startswith("ok fresh")
    code, certain = CardFaceSource("sim", spy).read()
    assert certain and code is not None


# -- response chaining, above every backend -----------------------------------------------------------------

def _card(answers: dict[bytes, bytes]):
    sent: list[bytes] = []

    def exchange(command: bytes) -> bytes:
        sent.append(command)
        return answers[command]
    return exchange, sent


def test_chaining_joins_61xx_answers_and_resends_on_6cxx():
    from mynareader.device.transport import chained
    exchange, sent = _card({bytes.fromhex("00B0000000"): b"A" * 10 + b"\x61\x05",
                            bytes.fromhex("00C0000005"): b"B" * 5 + b"\x61\x00",
                            bytes.fromhex("00C0000000"): b"C" * 3 + b"\x90\x00"})
    assert chained(exchange, bytes.fromhex("00B0000000")) == b"A" * 10 + b"B" * 5 + b"C" * 3 + b"\x90\x00"
    assert len(sent) == 3
    exchange, sent = _card({bytes.fromhex("00B0000000"): b"\x6C\x20", bytes.fromhex("00B0000020"): b"T" * 32 + b"\x90\x00"})
    assert chained(exchange, bytes.fromhex("00B0000000")) == b"T" * 32 + b"\x90\x00"


@pytest.mark.parametrize("command", ["0020008004313233", "00200080", "002A9E9A03010203", "0024000004313233"])
def test_chaining_never_sends_a_verify_or_signature_twice(command):
    from mynareader.device.transport import chained
    exchange, sent = _card({bytes.fromhex(command): b"\x6C\x04"})
    assert chained(exchange, bytes.fromhex(command)) == b"\x6C\x04" and len(sent) == 1


def test_chaining_stops_a_card_that_never_finishes():
    from mynareader.device.errors import MalformedResponse
    from mynareader.device.transport import chained
    with pytest.raises(MalformedResponse, match="kept chaining"):
        chained(lambda command: b"x" * 255 + b"\x61\x00", bytes.fromhex("00B0000000"))


def test_an_unfinished_61xx_is_not_success():
    from mynareader.device import apdu
    from mynareader.device.errors import UnexpectedStatus
    with pytest.raises(UnexpectedStatus):
        apdu.check(b"data\x61\x10")


def test_spy_logs_each_exchange_on_the_line_including_get_response(tmp_path, caplog):
    t = open_reader(f"spy+sim://fresh?state={tmp_path}")
    t.slot.control("chain 100")
    card = MyNumberCard(t)
    with caplog.at_level(logging.INFO, logger="mynareader.device.transport"):
        card.connect()
        cert = card.auth_certificate()
    assert "APDU > 00 C0 00 00 64  < 6138 +100 bytes" in caplog.text
    assert len(cert.der) > 256


# -- the registry -------------------------------------------------------------------------------------------

def test_missing_package_is_one_error_naming_it(monkeypatch):
    from mynareader.device import registry
    from mynareader.device.errors import BackendUnavailable
    monkeypatch.setitem(registry.READERS, "pcsc", registry.Backend(
        "mynareader.device.no_such_backend:X", "pyscard", "pcsc://", "test"))
    with pytest.raises(BackendUnavailable, match="needs the package 'pyscard'") as exc:
        open_reader("spy+pcsc://")
    assert exc.value.scheme == "pcsc" and exc.value.package == "pyscard"


def test_every_registered_target_imports():
    """Each table row names a module and factory that exist (picamera2 only where the OS provides it)."""
    import importlib.util

    from mynareader.device import registry
    for kind, table in [*registry.KINDS.items(), *registry.WRAPPERS.items()]:
        for scheme, backend in table.items():
            if not backend.target:
                continue
            try:
                assert callable(registry.load(backend.target)), (kind, scheme)
            except ImportError:
                assert scheme == "picamera2" and importlib.util.find_spec("picamera2") is None


def test_url_problems_name_what_is_allowed():
    from mynareader.device.registry import url_problem
    assert url_problem("reader", "spy+pn532+socket://127.0.0.1:7") is None
    assert url_problem("cardface", "bench://card") is None and url_problem("cardface", "control:/x") is None
    assert "pcsc://, pn532://, sim://" in url_problem("reader", "usb://0")
    assert "none, sim, control:PATH or a camera URL" in url_problem("cardface", "control:")


def test_production_modules_do_not_load_the_bench_mocks():
    """device/mock is reached only by name through the registry (sim://, bench://card, the sim card-face source)."""
    import subprocess
    import sys
    code = ("import sys, mynareader.daemon.app.compose, mynareader.daemon.cli.card, mynareader.daemon.cli.run, "
            "mynareader.device.pcsc, mynareader.device.pn532, mynareader.device.camera.replay; "
            "from mynareader.daemon.service.card_face import CardFaceSource; "
            "CardFaceSource('control:/nonexistent'); "
            "print([m for m in sys.modules if m.startswith('mynareader.device.mock')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_docs_list_every_device_url_of_the_registry():
    """docs/card.md "Device URLs" lists exactly the registry's rows, each with the module that opens it."""
    import re
    from pathlib import Path

    from mynareader.device import registry
    text = (Path(__file__).resolve().parent.parent / "docs" / "card.md").read_text("utf-8")
    documented = set(re.findall(r"^\| (reader|camera|cardface) \| `([^`]+)` \| ([^ |]+) \|", text, re.M))
    rows = set()
    for kind, table in [*registry.KINDS.items(), *registry.WRAPPERS.items()]:
        for backend in table.values():
            module = backend.target.split(":")[0].removeprefix("mynareader.").replace(".", "/") + ".py"
            rows.add((kind, backend.example, module if backend.target else "-"))
    assert documented == rows
