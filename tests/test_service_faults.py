"""The service keeps serving through faults, says what happened, and never lifts a lock because of one."""
import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mynareader.daemon.app.inprocess import InProcessReader, demo_config
from mynareader.daemon.rpc.client import Client, RemoteError
from mynareader.device.bench_control import send_control

EXE = str(Path(sys.executable).with_name("mynareader"))


def wait_step(kiosk, step, timeout=30):
    while True:
        event = kiosk.next_event(timeout, name="step.changed")
        if event["params"]["step"] == step:
            return event["params"]


def face_reception(config, kiosk) -> None:
    """A patient places a fresh card, chooses face and agrees on the comprehensive screen."""
    kiosk.call("subscribe", events=["step.changed"])
    send_control(config.bench.control, "insert fresh")
    wait_step(kiosk, "choose_method")
    kiosk.call("kiosk.choose_method", method="face")
    wait_step(kiosk, "consent")
    kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")


@pytest.fixture
def bench(tmp_path):
    """The service in-process on the bench devices, an empty reader, a kiosk following the steps and a
    reception client receiving every event."""
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    kiosk, reception = Client(config.sockets.kiosk), Client(config.sockets.reception)
    kiosk.call("subscribe", events=["step.changed"])
    reception.call("subscribe")
    yield SimpleNamespace(config=config, kiosk=kiosk, reception=reception,
                          control=lambda line: send_control(config.bench.control, line))
    kiosk.close()
    reception.close()
    reader.close()


def test_camera_gone_during_face_offers_pin_and_next_patient_is_served(bench):
    kiosk = bench.kiosk
    bench.control("unplug")
    bench.control("insert fresh")
    wait_step(kiosk, "choose_method")
    kiosk.call("kiosk.choose_method", method="face")
    step = wait_step(kiosk, "choose_method")
    assert step["message"] == "face_unavailable" or "face" not in step["options"]
    step = kiosk.call("kiosk.current")["step"]
    assert step["options"] == ["pin", "staff"] and step["data"]["face_unavailable"] == "camera_unavailable"
    kiosk.call("kiosk.choose_method", method="pin")
    wait_step(kiosk, "pin_entry")
    kiosk.call("kiosk.submit_pin", pin="1234")
    wait_step(kiosk, "consent")
    kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    assert bench.reception.next_event(30, name="result")["params"]["identity"]["method"] == "pin"
    bench.control("remove")
    bench.control("replug")
    bench.control("insert fresh")
    wait_step(kiosk, "choose_method")
    kiosk.call("kiosk.choose_method", method="face")       # the camera is back: face works again
    wait_step(kiosk, "consent")


def test_corrupt_store_pauses_identity_checks_but_the_reader_keeps_answering(tmp_path):
    config = demo_config(tmp_path, profile="empty")
    state = Path(config.state.directory)
    state.mkdir(parents=True)
    (state / "state.sqlite3").write_bytes(b"garbage" * 1000)
    (state / "card-key.salt").write_bytes(b"x" * 32)
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.reception) as reception:
            status = reception.call("status")
            assert status["store"]["ok"] is False and "store" in status["status"]
            reception.call("subscribe", events=["session.aborted"])
            send_control(config.bench.control, "insert fresh")
            aborted = reception.next_event(30, name="session.aborted")["params"]
            assert aborted["reason"] == "store_unavailable"
            assert "pin=3 " in send_control(config.bench.control, "status")   # nothing was tried on the card
        assert (state / "state.sqlite3").read_bytes().startswith(b"garbage")  # left for staff, not recreated
    finally:
        reader.close()


def test_bench_session_prints_figures():
    out = subprocess.run([EXE, "bench", "session", "--runs", "1", "--clients", "5", "--rate", "5", "--seconds", "2"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "face  median" in out.stdout and "pin   median" in out.stdout
    assert "under 5 clients x 5/s for 2 s" in out.stdout and out.stdout.count(" 0 errors") == 2   # idle, busy
    assert "idle:" in out.stdout
    paced = out.stdout.split("during ")[1]
    assert int(paced.split()[0]) >= 1 and paced.split()[1] == "face"     # face receptions really ran meanwhile
    memory = out.stdout.split("peak memory (RSS): service ")[1]
    assert float(memory.split(" MiB")[0]) > 0 and float(memory.split("+ worker ")[1].split()[0]) > 50  # models


def test_bench_soak_prints_a_memory_slope():
    out = subprocess.run([EXE, "bench", "soak", "--receptions", "300", "--clients", "3", "--rate", "5",
                          "--seconds", "1"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "300 PIN receptions" in out.stdout and "MiB per 1,000 receptions" in out.stdout


def test_one_kiosk_holds_the_patient_screen_until_it_disconnects(bench):
    first, second = bench.kiosk, Client(bench.config.sockets.kiosk)
    bench.control("insert fresh")
    wait_step(first, "choose_method")
    first.call("kiosk.choose_method", method="pin")
    with pytest.raises(RemoteError) as e:
        second.call("kiosk.cancel")
    assert e.value.name == "Busy"
    first.close()                                          # the claim ends with the connection
    deadline = time.monotonic() + 10
    while True:
        try:
            second.call("kiosk.cancel")
            break
        except RemoteError as exc:
            assert exc.name == "Busy" and time.monotonic() < deadline
    assert second.call("kiosk.current")["state"] == "take_card"
    second.close()


def test_card_pulled_during_a_card_operation_ends_the_session_and_the_next_patient_is_served(bench):
    kiosk = bench.kiosk
    bench.control("insert fresh")
    wait_step(kiosk, "choose_method")
    assert bench.control("pull-after 0") == "ok"           # gone at the next APDU
    kiosk.call("kiosk.choose_method", method="pin")
    assert bench.reception.next_event(30, name="session.aborted")["params"]["reason"] == "card_removed"
    bench.control("insert fresh")
    wait_step(kiosk, "choose_method")
    assert kiosk.call("kiosk.current")["step"]["data"]["pin_tries"] == 3


def test_a_descriptor_other_than_the_default_can_be_chosen_in_the_configuration(tmp_path):
    import dataclasses
    from mynareader.daemon.config import Face
    from mynareader.daemon.face.onnx_models import manifest
    config = dataclasses.replace(demo_config(tmp_path, profile="empty"), face=Face(model="faceres"))
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.kiosk) as kiosk, Client(config.sockets.reception) as reception:
            reception.call("subscribe", events=["result"])
            face_reception(config, kiosk)
            face = reception.next_event(30, name="result")["params"]["identity"]["face"]
        assert face["model"] == "faceres" != manifest()["default_descriptor"]
        assert face["threshold"] == manifest()["models"]["faceres"]["threshold"] <= face["score"]
    finally:
        reader.close()


def test_an_event_that_fails_to_go_out_does_not_skip_the_rest_of_the_session(tmp_path):
    """The result event fails to send: the session still ends, the chip descriptor is still forgotten, and the
    result is still there for result.last."""
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    real = reader.service.rpc.broadcast

    def failing(event, params, *args):
        if event == "result":
            raise RuntimeError("simulated delivery failure")
        return real(event, params, *args)
    reader.service.rpc.broadcast = failing
    try:
        with Client(config.sockets.kiosk) as kiosk, Client(config.sockets.reception) as reception:
            reception.call("subscribe", events=["session.ended"])
            face_reception(config, kiosk)
            send_control(config.bench.control, "remove")
            assert reception.next_event(30, name="session.ended")["params"]["outcome"] == "completed"
            assert reception.call("result.last")["identity"]["method"] == "face"
            deadline = time.monotonic() + 10
            while reader.service.face._reference is not None and time.monotonic() < deadline:
                time.sleep(0.05)
            # the worker process itself holds no descriptor any more: it refuses to compare a frame
            with pytest.raises(RuntimeError, match="set_reference"):
                reader.service.native.face_feed(np.zeros((480, 640, 3), np.uint8) + 128, 0.0)
    finally:
        reader.close()


def test_a_staff_name_that_is_not_valid_unicode_is_refused_and_the_session_goes_on(bench):
    import json
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    bench.reception.call("session.request_visual")
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "session.confirm_visual",
                       "params": {"staff": "\ud800"}})           # ASCII on the wire: \ud800 escaped
    reply = json.loads(send_control(bench.config.sockets.reception, line))
    assert reply["error"]["data"]["name"] == "InvalidParams" and "surrogate" in reply["error"]["message"]
    bench.reception.call("session.confirm_visual", staff="受付 佐藤")
    wait_step(bench.kiosk, "consent")
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    assert bench.reception.next_event(30, name="result")["params"]["identity"]["method"] == "visual"
    assert bench.reception.call("result.last")["identity"]["method"] == "visual"


def test_a_refused_kiosk_input_claims_nothing_and_staff_can_free_a_stale_claim(bench):
    with Client(bench.config.sockets.kiosk) as stray:
        with pytest.raises(RemoteError) as e:               # no card yet: refused, and no claim taken
            stray.call("kiosk.choose_method", method="face")
        assert e.value.name == "NoSession"
        assert bench.reception.call("status")["kiosk_holder"] is None
        bench.control("insert fresh")
        wait_step(bench.kiosk, "choose_method")
        stray.call("kiosk.choose_method", method="pin")      # accepted: now the stray client holds the screen
        holder = bench.reception.call("status")["kiosk_holder"]
        assert holder is not None and holder["pid"] == os.getpid()
        with pytest.raises(RemoteError) as e:
            bench.kiosk.call("kiosk.cancel")
        assert e.value.name == "Busy"
        assert bench.reception.call("kiosk.release")["released"] == holder["client"]
        assert bench.reception.call("status")["kiosk_holder"] is None
        wait_step(bench.kiosk, "pin_entry")
        bench.kiosk.call("kiosk.submit_pin", pin="1234")     # the real touchscreen drives it again
        wait_step(bench.kiosk, "consent")


def test_a_store_locked_by_another_process_does_not_freeze_the_reader(bench, tmp_path):
    """Another program holds SQLite's lock: the session that needs the store ends (fails closed), while status
    keeps answering and says the store is failing; once the lock is gone the next patient is served."""
    import sqlite3
    from mynareader.daemon.store import DB_NAME
    other = sqlite3.connect(Path(bench.config.state.directory) / DB_NAME, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        bench.control("insert fresh")
        answered = 0
        with Client(bench.config.sockets.reception, timeout=1.0) as c:
            for _ in range(5):                               # while the flow waits on the lock
                assert c.call("status")["state"] in ("idle", "reading")
                answered += 1
            ended = bench.reception.next_event(30, name="session.aborted")["params"]
            assert ended["reason"] == "store_unavailable"
            store = c.call("status")["store"]
            assert store["ok"] is False and "locked" in store["error"]
        assert answered == 5
    finally:
        other.rollback()
        other.close()
    bench.control("remove")
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    assert bench.reception.call("status")["store"] == {"ok": True, "error": None}


def test_a_card_that_stops_answering_ends_the_session_with_a_reason(tmp_path):
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    reader.service.worker.deadline = 1.0
    control = lambda line: send_control(config.bench.control, line)   # noqa: E731
    try:
        with Client(config.sockets.reception) as reception, Client(config.sockets.kiosk) as kiosk:
            reception.call("subscribe", events=["session.aborted", "reader.fault", "reader.recovered"])
            kiosk.call("subscribe", events=["step.changed"])
            control("hang 3")                         # the first APDU of the next card never comes back in time
            control("insert fresh")
            ended = reception.next_event(30, name="session.aborted")["params"]
            assert ended["reason"] == "card_error"
            fault = reception.next_event(5, name="reader.fault")["params"]["message"]
            assert "stopped answering" in fault and "Traceback" not in fault
            control("remove")                         # the faulty card has gone: the fault ends with it
            assert reception.next_event(10, name="reader.recovered")["params"] == {}   # the fault is paired
            time.sleep(2.5)                           # the stuck APDU returns (3 s); a deadline cannot unstick a driver
            control("insert fresh")                   # the next patient is served once the card answers
            wait_step(kiosk, "choose_method")
    finally:
        reader.close()


def test_a_card_swap_faster_than_the_watcher_ends_one_session_and_starts_the_next(bench):
    bench.control("insert fresh")
    first = wait_step(bench.kiosk, "choose_method")["session_id"]
    assert bench.control("swap last-try") == "ok"     # another card in the same instant: never seen empty
    ended = bench.reception.next_event(30, name="session.aborted")["params"]
    assert ended["session_id"] == first and ended["reason"] == "card_removed"
    second = wait_step(bench.kiosk, "choose_method")
    assert second["session_id"] != first and second["data"]["pin_tries"] == 1     # the new card's own counters


def test_a_card_reset_by_another_program_starts_a_new_session(tmp_path):
    """Another PC/SC program resets the card under us: the operation fails as 'removed', but the card is still
    on the reader, so a new session starts instead of the reader sitting idle beside it."""
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.reception) as reception, Client(config.sockets.kiosk) as kiosk:
            reception.call("subscribe", events=["session.started", "session.aborted"])
            kiosk.call("subscribe", events=["step.changed"])
            send_control(config.bench.control, "insert fresh")
            first = wait_step(kiosk, "choose_method")["session_id"]
            send_control(config.bench.control, "reset")   # the next APDU meets a card reset by someone else
            kiosk.call("kiosk.choose_method", method="pin")
            assert reception.next_event(30, name="session.aborted")["params"]["session_id"] == first
            again = wait_step(kiosk, "choose_method")
            assert again["session_id"] != first
    finally:
        reader.close()


@pytest.mark.parametrize("scene,code", [("dark", "too_dark"), ("noface", "no_face"), ("two-faces", "one_person")])
def test_guidance_events_carry_english_in_en(bench, scene, code):
    bench.control(scene)
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    while True:
        params = bench.reception.next_event(60, name="guidance")["params"]
        if params["data"].get("code") == code:
            break
    assert params["en"].isascii() and params["en"] != params["ja"] and not params["ja"].isascii()


@pytest.mark.parametrize("socket_name,method,params,needle", [
    ("reception", "session.set_challenge", {"nonce": "AAAA"}, "nonce"),                       # 3 bytes
    ("reception", "session.set_challenge", {"nonce": "QUFB" * 22}, "nonce"),                  # 66 bytes
    ("kiosk", "kiosk.choose_method", {"method": "iris"}, "one of face, pin, staff"),
    ("reception", "session.lift_face_lock", {}, "staff"),
    ("reception", "session.confirm_visual", {"staff": "x" * 65}, "at most 64"),
    ("kiosk", "kiosk.submit_pin", {"pin": "12a4"}, "pin"),
    ("kiosk", "kiosk.answer", {"screen": "comprehensive", "answer": "agree", "extra": 1}, "extra"),
    ("reception", "mode.set", {"mode": 3}, "mode"),
])
def test_wrong_parameters_are_invalid_params_checked_against_the_openrpc_document(bench, socket_name, method,
                                                                                  params, needle):
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    client = bench.kiosk if socket_name == "kiosk" else bench.reception
    with pytest.raises(RemoteError) as e:
        client.call(method, **params)
    assert e.value.name == "InvalidParams" and e.value.code == -32602 and needle in str(e.value)
    assert "12a4" not in str(e.value)                                   # a PIN is never echoed


def test_an_answer_no_screen_takes_is_refused_as_before_and_claims_nothing(bench):
    """ConsentAnswered refuses an answer its screen cannot take when built (messages.py); the client still
    hears what it heard when the handler checked: NoSession without a session, WrongStep during one."""
    with pytest.raises(RemoteError) as e:
        bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="refuse")
    assert e.value.name == "NoSession"
    bench.control("insert fresh")
    wait_step(bench.kiosk, "choose_method")
    for screen, answer, needle in (("comprehensive", "refuse", "agree or individual"),
                                   ("registration", "individual", "registration screen")):
        with pytest.raises(RemoteError) as e:
            bench.kiosk.call("kiosk.answer", screen=screen, answer=answer)
        assert e.value.name == "WrongStep" and needle in e.value.text and e.value.data["state"] == "choose_method"
    assert bench.reception.call("status")["kiosk_holder"] is None     # a refused input claims no screen


def test_the_patient_can_call_staff_from_the_screen(bench):
    bench.control("insert fresh")
    step = wait_step(bench.kiosk, "choose_method")
    assert step["options"] == ["face", "pin", "staff"]
    bench.kiosk.call("kiosk.choose_method", method="staff")
    step = wait_step(bench.kiosk, "choose_method")
    assert step["message"] == "visual_wait" and "pin" in step["options"]     # staff are coming; PIN still open
    bench.reception.call("session.confirm_visual", staff="受付1")
    wait_step(bench.kiosk, "consent")


def test_a_missed_result_can_be_fetched_after_a_restart(tmp_path):
    config = demo_config(tmp_path, profile="empty")
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.reception) as reception, Client(config.sockets.kiosk) as kiosk:
            reception.call("subscribe", events=["session.started", "result"])
            kiosk.call("subscribe", events=["step.changed"])
            send_control(config.bench.control, "insert fresh")
            session = reception.next_event(30, name="session.started")["params"]["session_id"]
            wait_step(kiosk, "choose_method")
            kiosk.call("kiosk.choose_method", method="pin")
            wait_step(kiosk, "pin_entry")
            kiosk.call("kiosk.submit_pin", pin="1234")
            wait_step(kiosk, "consent")
            kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
            produced = reception.next_event(30, name="result")["params"]
    finally:
        reader.close()
    reader = InProcessReader(config)                        # the reader restarted; the client reconnects
    try:
        with Client(config.sockets.reception) as reception:
            assert reception.call("result.get", session_id=session) == produced
            assert reception.call("result.last") == produced
            with pytest.raises(RemoteError) as e:
                reception.call("result.get", session_id="0000000000000000")
            assert e.value.name == "NoResult"
    finally:
        reader.close()
    # docs/examples/verify_signature.py checks what the card signed, and notices a tampered challenge
    example = str(Path(__file__).parent.parent / "docs" / "examples" / "verify_signature.py")
    out = subprocess.run([sys.executable, example], input=json.dumps(produced), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("signature valid"), out.stderr
    produced["identity"]["signature"]["challenge"] = base64.b64encode(b"another challenge.....").decode()
    out = subprocess.run([sys.executable, example], input=json.dumps(produced), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 1 and "NOT valid" in out.stderr
