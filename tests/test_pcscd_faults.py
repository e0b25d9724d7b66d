"""pcscd killed at ten points of a face reception, through the real pcscd, vpcd and the virtual card: each time the
reader says so, spends none of the card's tries, and serves the next patient once pcscd is back."""
from __future__ import annotations

import time

import pytest

from mynareader.daemon.rpc.client import RemoteError

from helpers.daemon_process import BenchDaemon

pytestmark = pytest.mark.pcscd

# (the moment, seconds after it): the points span the card read, the chip photo, the face check and the consent
POINTS = [("placed", 0.0), ("placed", 0.1), ("placed", 0.3), ("choose_method", 0.0), ("face", 0.0),
          ("face", 0.2), ("face", 1.0), ("face", 2.0), ("consent", 0.0), ("answered", 0.0)]


def counters(bench: BenchDaemon) -> str:
    """The card's own counters ("pin=3 sign=5 code_b=10"), read from the virtual card, not through pcscd."""
    return bench.card("status").split(" ", 1)[1]


def face_reception_until(bench: BenchDaemon, pcscd, moment: str, after: float, started: list[str]) -> None:
    """A face reception that loses pcscd at ``moment`` + ``after`` s; steps it can no longer take are skipped.
    Its session id goes into ``started``."""
    def kill_at(here: str) -> bool:
        if here != moment:
            return False
        time.sleep(after)
        pcscd.kill()
        return True

    bench.card("insert fresh")
    started.append(bench.event("session.started")["session_id"])
    if kill_at("placed"):
        return
    bench.wait_state("choose_method")
    if kill_at("choose_method"):
        return
    bench.kiosk.call("kiosk.choose_method", method="face")
    if kill_at("face"):
        return
    bench.wait_state("consent", timeout=60)
    if kill_at("consent"):
        return
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    kill_at("answered")


def session_end(bench: BenchDaemon, session: str) -> str:
    """How the session ended: an abort reason, or "completed" when pcscd went after the card's last part."""
    while True:
        event = bench.reception.next_event(30)
        if event["method"] in ("session.aborted", "session.ended") and event["params"]["session_id"] == session:
            return event["params"].get("reason") or event["params"]["outcome"]


def test_pcscd_killed_at_ten_points_spends_no_try_and_the_next_patient_is_served(pcscd, tmp_path):
    bench = BenchDaemon(tmp_path)
    try:
        bench.card("insert fresh")
        fresh = counters(bench)
        bench.card("remove")
        endings = []
        for moment, after in POINTS:
            started: list[str] = []
            try:
                face_reception_until(bench, pcscd, moment, after, started)
            except (RemoteError, TimeoutError):
                pass          # the session ended under the step the patient was about to take
            bench.event("reader.fault", timeout=30)
            endings.append((moment, after, session_end(bench, started[0])))
            assert counters(bench) == fresh, (moment, after, counters(bench))     # no try was spent
            assert bench.daemon.poll() is None
            # the patient takes the card while the reader is down: taken after pcscd is back, a loaded machine
            # could let the daemon start a new session on it first, and the pull end that session under the
            # next patient's card (seen once in CI: 'take_card' after the next insert)
            bench.card("remove")
            pcscd.start()
            bench.event("reader.recovered", timeout=60)
            bench.wait_state("idle", timeout=60)
            # the next patient: a whole face reception
            bench.reception.events.clear()
            bench.card("insert fresh")
            bench.wait_state("choose_method", timeout=60)
            bench.kiosk.call("kiosk.choose_method", method="face")
            bench.wait_state("consent", timeout=60)
            bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
            assert bench.event("result", timeout=60)["identity"]["method"] == "face", (moment, after)
            bench.card("remove")
            bench.wait_state("idle")
            bench.reception.events.clear()
        print("\n".join(f"pcscd killed at {m} +{a:.1f} s: {how}" for m, a, how in endings))
        assert len(endings) == 10
    finally:
        bench.close()
        pcscd.start()
