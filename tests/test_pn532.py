"""The PN532 transport against the emulator on a pty: line faults, a hung chip, a chip without type B."""
import subprocess
import sys
import json
from pathlib import Path

import pytest

from mynareader.device.card import MyNumberCard
from mynareader.device.errors import Timeout, WrongPin
from mynareader.device.pin import Pin
from mynareader.device.pn532 import Pn532Unsupported

from helpers.bench_pn532 import start_pn532_bench

EXE = str(Path(sys.executable).with_name("mynareader"))


@pytest.fixture
def pn532(tmp_path):
    with start_pn532_bench("fresh", tmp_path / "card") as bench:
        transport = bench.open()
        card = MyNumberCard(transport)
        card.connect()
        yield bench, transport, card
        transport.close()


def verifies_seen(bench) -> int:
    return sum(1 for apdu in bench.slot.apdu_log if apdu[1] == 0x20 and len(apdu) > 5)


def test_dropped_bytes_are_recovered(pn532):
    bench, transport, card = pn532
    assert bench.control("drop 4") == "ok"        # the next ACK is lost
    assert card.pin_tries() == 3
    assert card.auth_certificate().der[:2] == b"\x30\x82"


def test_damaged_answer_is_asked_for_again_without_rerunning_the_command(pn532):
    bench, transport, card = pn532
    card.pin_tries()
    before = len(bench.slot.apdu_log)
    bench.control("corrupt 1")
    with pytest.raises(WrongPin):
        card.verify_pin(Pin("0000"))
    assert verifies_seen(bench) == 1 and len(bench.slot.apdu_log) == before + 1
    assert card.pin_tries() == 2


def test_a_verify_whose_ack_is_lost_is_never_sent_twice(pn532):
    bench, transport, card = pn532
    card.pin_tries()
    bench.control("drop 6")                        # the ACK of the VERIFY never arrives
    with pytest.raises(Timeout, match="not repeated"):
        card.verify_pin(Pin("0000"))
    assert verifies_seen(bench) == 1               # it reached the card once, and was not repeated
    card.connect()
    assert card.pin_tries() == 2                   # exactly one try was spent


def test_a_mute_chip_times_out_clearly_and_recovers(pn532):
    bench, transport, card = pn532
    bench.control("mute")
    with pytest.raises(Timeout, match="PN532"):
        card.pin_tries()
    bench.control("unmute")
    card.connect()
    assert card.pin_tries() == 3


def test_chip_without_type_b_is_refused_at_open(tmp_path):
    with start_pn532_bench("fresh", tmp_path) as bench:
        bench.control("no-typeb")
        transport = bench.open()
        with pytest.raises(Pn532Unsupported, match="14443-B"):
            transport.card_present()


def test_chained_answers_without_extended_frames(tmp_path):
    with start_pn532_bench("fresh", tmp_path, extended_frames=False) as bench:
        transport = bench.open()
        card = MyNumberCard(transport)
        card.connect()
        cert = card.auth_certificate()
        assert len(cert.der) > 512
        transport.close()


def test_removal_is_seen_while_connected(pn532):
    bench, transport, card = pn532
    assert transport.card_present()
    bench.control("remove")
    assert not transport.card_present()


def test_mock_pn532_command_on_a_pty(tmp_path):
    proc = subprocess.Popen([EXE, "mock", "pn532", "--pty", "--profile", "last-try", "--state", str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        path = line.split("pty ", 1)[1].split()[0]
        out = subprocess.run([EXE, "card", "info", "--reader", f"pn532://{path}", "--json"], capture_output=True,
                             text=True, timeout=60)
        info = json.loads(out.stdout)
        assert info["pin_tries_left"] == 1 and info["token"] == "mynumber"
    finally:
        proc.terminate()
        proc.wait(10)
