"""The commands a clinic's IT person runs, as processes: `card info`, `card pin`, `mock card`, `bench card`."""
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mynareader.device.bench_control import send_control
from mynareader.device.registry import open_reader

EXE = str(Path(sys.executable).with_name("mynareader"))
VPCD_URL = "pcsc://?reader=Virtual PCD"


def mynareader(*args, stdin=None, timeout=60):
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def mock_card(pcscd, tmp_path):
    """`mynareader mock card` as its own process, with a control socket."""
    control = tmp_path / "control.sock"
    proc = subprocess.Popen([EXE, "mock", "card", "--profile", "fresh", "--state", str(tmp_path / "state"),
                             "--control", str(control)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert "served to vpcd" in line
    yield control
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def test_card_info_json_over_pcscd(mock_card):
    out = mynareader("card", "info", "--reader", VPCD_URL, "--json", "--wait", "15")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["token"] == "mynumber"
    assert info["certificate_state"] == "valid"
    assert info["pin_tries_left"] == 3 and info["code_b_tries_left"] == 10
    cert = info["auth_cert"]
    assert set(cert) >= {"serial", "subject", "issuer", "not_before", "not_after", "sha256"}
    assert len(cert["sha256"]) == 64
    assert send_control(mock_card, "status").endswith("pin=3 sign=5 code_b=10")  # consumed nothing


def test_card_pin_wrong_then_guarded_last_try_then_blocked(mock_card):
    wrong = mynareader("card", "pin", "--reader", VPCD_URL, "--pin-stdin", "--wait", "15", stdin="0000\n")
    assert wrong.returncode == 1
    assert "tries left before: 3" in wrong.stdout and "tries left after: 2" in wrong.stderr
    assert "0000" not in wrong.stdout + wrong.stderr

    assert send_control(mock_card, "set-tries 1") == "ok"
    refused = mynareader("card", "pin", "--reader", VPCD_URL, "--pin-stdin", stdin="0000\n")
    assert refused.returncode == 4 and "Nothing was sent" in refused.stderr
    assert "pin=1 " in send_control(mock_card, "status")            # the last try is still there

    right = mynareader("card", "pin", "--reader", VPCD_URL, "--pin-stdin", "--allow-last-try", stdin="1234\n")
    assert right.returncode == 0 and "tries left after: 3" in right.stdout

    assert send_control(mock_card, "set-tries 0") == "ok"
    blocked = mynareader("card", "pin", "--reader", VPCD_URL, "--pin-stdin", stdin="1234\n")
    assert blocked.returncode == 3 and "blocked" in blocked.stderr
    assert "pin=0 " in send_control(mock_card, "status")


def test_stopping_the_mock_removes_the_card(pcscd, tmp_path):
    proc = subprocess.Popen([EXE, "mock", "card", "--profile", "grace", "--state", str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    info = json.loads(mynareader("card", "info", "--reader", VPCD_URL, "--json", "--wait", "15").stdout)
    assert info["certificate_state"] == "grace"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    probe = open_reader(VPCD_URL)
    try:
        assert not probe.card_present() or probe.wait_for_change(True, 10)  # pcscd polls presence
    finally:
        probe.close()
    gone = mynareader("card", "info", "--reader", VPCD_URL, "--json", "--wait", "1")
    assert gone.returncode == 2 and "no card" in gone.stderr


@pytest.mark.parametrize("profile,token,state", [("expired", "mynumber", "expired"), ("juki", "juki", "valid"),
                                                 ("renewal", "mynumber", "renewal_due")])
def test_card_info_in_process_profiles(tmp_path, profile, token, state):
    out = mynareader("card", "info", "--reader", f"sim://{profile}?state={tmp_path}", "--json")
    info = json.loads(out.stdout)
    assert (info["token"], info["certificate_state"]) == (token, state)


def test_bench_card_prints_apdu_counts(tmp_path):
    out = mynareader("bench", "card", "--reader", f"sim://fresh?state={tmp_path}", "--repeat", "2")
    assert out.returncode == 0, out.stderr
    rows = {line.split("  ")[0].strip(): line.split() for line in out.stdout.splitlines() if "->" in line}
    cert_row = rows["present -> first read"]
    # connect is free; SELECT JPKI, SELECT 0006, READ token, SELECT 000A, 4 READs of the certificate,
    # SELECT 0018, VERIFY(query), SELECT 券面AP, SELECT 0012, VERIFY(query)
    assert int(cert_row[-5]) == 13


def test_help_names_the_commands():
    out = mynareader("--help")
    assert out.returncode == 0
    for word in ("card", "mock", "bench", "pcsc://", "sim://"):
        assert word in out.stdout


def test_unknown_reader_scheme_is_a_clear_error():
    out = mynareader("card", "info", "--reader", "usb://x")
    assert out.returncode == 2 and "unknown reader URL scheme" in out.stderr


def test_demo_runs_two_full_receptions():
    out = mynareader("demo", timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("[reception] result:") == 2
    assert '"method": "face"' in out.stdout and '"method": "pin"' in out.stdout
    assert "1234" not in out.stdout                      # the PIN typed at the kiosk is never shown


@pytest.mark.parametrize("profile,expect", [
    ("android", {"token": "android", "pin_tries_left": 5, "code_b_tries_left": None}),
    ("iphone", {"token": "iphone", "pin_tries_left": None}),
    ("pinless", {"token": "pinless", "pin_tries_left": None, "code_b_tries_left": 10})])
def test_card_info_names_each_token_and_what_it_gates(tmp_path, profile, expect):
    info = json.loads(mynareader("card", "info", "--reader", f"sim://{profile}?state={tmp_path}", "--json").stdout)
    assert expect.items() <= info.items()
    if profile == "android":
        assert "after the phone's PIN" in info["auth_cert"]
    if profile == "iphone":
        assert "unlock it" in info["auth_cert"]


@pytest.mark.parametrize("profile", ["iphone", "pinless"])
def test_card_pin_refuses_a_token_without_a_pin(tmp_path, profile):
    out = mynareader("card", "pin", "--reader", f"sim://{profile}?state={tmp_path}", "--pin-stdin", stdin="1234\n")
    assert out.returncode != 0 and "no PIN" in out.stderr and "Traceback" not in out.stderr
