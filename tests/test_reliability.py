"""Faults and abuse the reader must survive: damaged stores, hostile protocol input, a card pulled at every APDU.

Each fault must leave the reader serving, say what happened, never lift a lockout and never spend a PIN try the
patient did not type.
"""
import json
import os
import socket

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mynareader.daemon.store import DB_NAME, SALT_NAME, Store, StoreError

from test_rpc_server import ServerThread


# -- the store: every kind of damage is reported, nothing is recreated, nothing is written ----------------------
def _truncate(d):
    db = d / DB_NAME
    db.write_bytes(db.read_bytes()[: len(db.read_bytes()) // 2])


def _garble_pages(d):
    db = d / DB_NAME
    raw = bytearray(db.read_bytes())
    for page in range(1, len(raw) // 4096):           # every page after the header page
        raw[page * 4096: page * 4096 + 64] = os.urandom(64)
    db.write_bytes(bytes(raw))


def _salt_cut(d):
    (d / SALT_NAME).write_bytes((d / SALT_NAME).read_bytes()[:10])


def _db_is_a_directory(d):
    (d / DB_NAME).unlink()
    (d / DB_NAME).mkdir()


def _zero_length(d):
    (d / DB_NAME).write_bytes(b"")


def _foreign_file(d):
    (d / DB_NAME).write_bytes(b"PK\x03\x04" + os.urandom(5000))


@pytest.mark.parametrize("damage", [_truncate, _garble_pages, _salt_cut, _db_is_a_directory, _zero_length,
                                    _foreign_file])
def test_damaged_store_fails_closed_and_is_left_as_found(tmp_path, damage):
    d = tmp_path / "state"
    s = Store(d, tmp_path / "state.store-id")
    key = s.legacy_card_key(1)
    for i in range(200):                               # enough rows for several pages
        s.record_failure(key, "face", f"s{i}", float(i))
    s.close()
    damage(d)
    before = {p.name: (p.read_bytes() if p.is_file() else None) for p in d.iterdir()}
    with pytest.raises(StoreError) as e:
        Store(d, tmp_path / "state.store-id")
    assert "Traceback" not in str(e.value) and str(d) in str(e.value)
    after = {p.name: (p.read_bytes() if p.is_file() else None) for p in d.iterdir()}
    assert after == before                             # not repaired, not recreated: left for staff


# -- the protocol: whatever arrives, a typed answer or silence, and the server lives on ---------------------------
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
                           max_leaves=20)
REQUESTS = st.fixed_dictionaries({}, optional={"jsonrpc": st.sampled_from(["2.0", "1.0", 2]) | JSON_VALUES,
                                               "id": st.integers() | st.text() | JSON_VALUES,
                                               "method": st.sampled_from(["echo", "hello", "subscribe",
                                                                          "kiosk.secret", "nope"]) | JSON_VALUES,
                                               "params": st.dictionaries(st.text(), JSON_VALUES) | JSON_VALUES})
LINES = (REQUESTS.map(lambda o: json.dumps(o).encode())
         | st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" "))
         | st.text(max_size=200).map(lambda t: t.replace("\n", " ").encode("utf-8", "surrogatepass")))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    s = ServerThread(tmp_path_factory.mktemp("fuzz"))
    yield s
    s.stop()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=LINES)
def test_any_line_gets_a_typed_reply_or_none_and_the_server_lives_on(fuzz_server, line):
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(5)
        c.connect(fuzz_server.kiosk)
        c.sendall(line + b'\n{"jsonrpc":"2.0","id":"probe","method":"echo","params":{"value":1}}\n')
        data = b""
        while data.count(b"\n") < 2 and b'"id":"probe"' not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    replies = [json.loads(x) for x in data.split(b"\n") if x.strip()]
    assert replies and replies[-1] == {"jsonrpc": "2.0", "id": "probe", "result": 1}
    for reply in replies[:-1]:
        assert reply["jsonrpc"] == "2.0" and ("result" in reply) != ("error" in reply)
        if "error" in reply:
            assert reply["error"]["data"]["name"] != "InternalError", (line, reply)
            assert isinstance(reply["error"]["code"], int) and reply["error"]["message"]


# -- the card pulled at every APDU position, through pcscd ---------------------------------------------------------
def _pin_tries(daemon) -> int:
    status = daemon.card("status")
    return int(status.split("pin=")[1].split()[0])


def _pin_session(daemon) -> tuple[bool, str]:
    """One patient: card on, PIN chosen, one wrong PIN, then the right one, consent. Stops where the session ends.
    Returns (whether the wrong PIN was typed, how the session ended)."""
    import time
    from mynareader.daemon.rpc.client import RemoteError

    def reach(state: str, placed: bool = True, **data) -> dict:
        """The session's next screen, or AssertionError as soon as it ended instead (no waiting out a timeout)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = daemon.kiosk.call("kiosk.current")
            step = now["step"] or {}
            if now["state"] == state and all(step.get("data", {}).get(k) == v for k, v in data.items()):
                return now
            pulled = now["state"] == "idle" and daemon.card("status") == "ok empty"
            if now["state"] == "take_card" or (now["state"] == "idle" and (placed or pulled)):
                raise AssertionError(f"the session ended at {now['state']}")
            time.sleep(0.02)
        raise AssertionError(f"no {state}")

    typed_wrong = False
    daemon.reception.events.clear()
    daemon.card("insert fresh")
    try:
        reach("choose_method", placed=False)        # idle until the reader notices the card
        daemon.kiosk.call("kiosk.choose_method", method="pin")
        reach("pin_entry")
        daemon.kiosk.call("kiosk.submit_pin", pin="0000")
        typed_wrong = True
        reach("pin_entry", tries_left=2)
        daemon.kiosk.call("kiosk.submit_pin", pin="1234")
        reach("consent")
        daemon.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
        daemon.event("result", timeout=10)
        return typed_wrong, "completed"
    except (AssertionError, RemoteError) as exc:
        try:
            ended = daemon.event("session.aborted", timeout=15)
        except TimeoutError:
            raise AssertionError(f"no session.aborted after: {exc}") from None
        return typed_wrong, ended["reason"]


@pytest.mark.pcscd
def test_the_card_pulled_at_every_apdu_spends_no_try_that_was_not_typed(pcscd, tmp_path):
    from helpers.daemon_process import BenchDaemon
    daemon = BenchDaemon(tmp_path)
    try:
        before = int(daemon.card("apdus").split()[1])
        assert _pin_session(daemon) == (True, "completed")
        clean_run = int(daemon.card("apdus").split()[1]) - before
        assert _pin_tries(daemon) == 3                  # the right PIN reset the wrong one
        daemon.card("remove")
        daemon.wait_state("idle")
        endings = {}
        for position in range(clean_run):
            daemon.card(f"pull-after {position}")
            typed_wrong, how = _pin_session(daemon)
            endings[position] = how
            assert how in ("card_removed", "card_error"), (position, how)
            daemon.wait_state("idle")
            daemon.card("insert fresh")                 # look at the card's own counter
            daemon.wait_state("choose_method")
            tries = _pin_tries(daemon)
            # at most the one wrong PIN the patient typed was spent, and only if it was typed
            assert tries in ((3, 2) if typed_wrong else (3,)), (position, typed_wrong, tries)
            if tries != 3:
                daemon.card("set-tries 3 pin")
            daemon.card("remove")
            daemon.wait_state("idle")
        assert len(endings) == clean_run >= 10
        assert daemon.daemon.poll() is None                # and the daemon never went down
    finally:
        daemon.close()
