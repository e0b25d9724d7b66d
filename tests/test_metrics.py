"""Fleet metrics: counted from the service's own events, rendered in the Prometheus text format (checked with the
prometheus_client parser), and never carrying what a card, a patient or a client supplied."""
from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mynareader.daemon.service.metrics import REASONS, Metrics, booted_slot, update_rolled_back, write_textfile

ROOT = Path(__file__).resolve().parent.parent


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_receptions_methods_refusals_faults_and_timings_are_counted():
    m = Metrics("1.2.3", "B")
    m.event("session.ended", {"session_id": "abc", "outcome": "completed", "reason": "completed"})
    m.event("session.aborted", {"session_id": "def", "outcome": "aborted", "reason": "card_removed"})
    m.event("session.aborted", {"session_id": "ghi", "outcome": "aborted", "reason": "card_removed"})
    m.event("result", {"identity": {"method": "face", "face": {"score": 0.9}}})
    m.event("step.changed", {"message": "pin_to_staff"})
    m.event("step.changed", {"message": "consent"})
    m.event("reader.fault", {"message": "pcscd is not running"})
    m.timed("VerifyPin", 0.08)
    m.timed("face_check", 3.2)
    m.timed("face_check", 40.0)
    got = samples(m.render(store_ok=False))
    assert got[("mynareader_info", (("slot", "B"), ("version", "1.2.3")))] == 1
    assert got[("mynareader_receptions_total", (("outcome", "aborted"), ("reason", "card_removed")))] == 2
    assert got[("mynareader_receptions_total", (("outcome", "completed"), ("reason", "completed")))] == 1
    assert got[("mynareader_identity_total", (("method", "face"),))] == 1
    assert got[("mynareader_tries_refused_total", (("step", "pin_to_staff"),))] == 1
    assert ("mynareader_tries_refused_total", (("step", "consent"),)) not in got
    assert got[("mynareader_faults_total", (("kind", "reader"),))] == 1
    assert got[("mynareader_store_ok", ())] == 0
    face = {labels: v for (name, labels), v in got.items() if name == "mynareader_operation_seconds_bucket"
            and ("operation", "face_check") in labels}
    assert face[(("le", "2.5"), ("operation", "face_check"))] == 0
    assert face[(("le", "5"), ("operation", "face_check"))] == 1
    assert face[(("le", "+Inf"), ("operation", "face_check"))] == 2
    assert got[("mynareader_operation_seconds_count", (("operation", "face_check"),))] == 2


def test_nothing_a_card_a_patient_or_a_client_supplies_reaches_the_text():
    m = Metrics("1.0", "A")
    secrets = ["1234", "山田太郎", "0x4f2a91c3", "sess-5f3e", 'x"} 1\nmynareader_evil 1']
    for s in secrets:
        m.event("session.aborted", {"session_id": s, "outcome": s, "reason": s})
        m.event("result", {"identity": {"method": s}, "certificate": {"serial": s}, "name": s})
        m.event("step.changed", {"message": s, "ja": s})
        m.timed(s, 0.1)
    text = m.render(store_ok=True)
    for s in secrets:
        assert s not in text
    assert "mynareader_evil" not in text
    assert samples(text)[("mynareader_receptions_total", (("outcome", "other"), ("reason", "other")))] == 5


def test_every_abort_reason_in_the_protocol_is_a_known_label():
    protocol = (ROOT / "docs" / "protocol.md").read_text()
    aborted = next(line for line in protocol.splitlines() if line.startswith("| `session.aborted` |"))
    documented = set(re.findall(r"`(\w+)` \(|`(\w+)`,", aborted)) - {("", "")}
    names = {a or b for a, b in documented} - {"session_id", "outcome", "reason", "aborted"}
    assert names and names <= set(REASONS), names - set(REASONS)


def test_the_textfile_is_replaced_whole_and_the_slot_comes_from_the_kernel_command_line(tmp_path):
    target = tmp_path / "mynareader.prom"
    write_textfile(str(target), Metrics("1.0", "A").render(store_ok=True))
    assert samples(target.read_text())[("mynareader_info", (("slot", "A"), ("version", "1.0")))] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["mynareader.prom"]
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("console=ttyAMA0 root=/dev/mmcblk0p3 rauc.slot=B rootwait\n")
    assert booted_slot(str(cmdline)) == "B"
    cmdline.write_text("console=tty1 root=/dev/sda2\n")
    assert booted_slot(str(cmdline)) == "none"
    cmdline.write_text("rauc.slot=Z9\n")                      # the label keeps to its closed set
    text = Metrics("1.0", booted_slot(str(cmdline))).render(store_ok=True)
    assert samples(text)[("mynareader_info", (("slot", "other"), ("version", "1.0")))] == 1


def test_the_image_names_the_slot_in_the_environment(tmp_path, monkeypatch):
    cmdline = tmp_path / "cmdline"
    cmdline.write_text("rauc.slot=A\n")
    monkeypatch.setenv("MYNAREADER_SLOT", "B")          # the sandboxed unit cannot read /proc/cmdline
    assert booted_slot(str(cmdline)) == "B"


def test_a_rollback_on_the_update_record_is_a_gauge(tmp_path):
    record = tmp_path / "mynareader-update"
    assert update_rolled_back(str(record)) is False                   # no A/B image, or never updated
    record.write_text("state_B=bad\nresult=rolled_back\n")
    m = Metrics("1.0", "A", lambda: update_rolled_back(str(record)))
    assert samples(m.render(store_ok=True))[("mynareader_update_rolled_back", ())] == 1
    record.write_text("state_B=good\nresult=updated\n")           # read at each rendering: the next update worked
    assert samples(m.render(store_ok=True))[("mynareader_update_rolled_back", ())] == 0


def test_the_reader_counts_a_reception_and_writes_the_textfile(tmp_path):
    import dataclasses
    import time

    from mynareader.daemon.app.inprocess import InProcessReader, demo_config
    from mynareader.daemon.config import Metrics as MetricsSection
    from mynareader.daemon.rpc.client import Client
    from mynareader.device.bench_control import send_control

    textfile = tmp_path / "mynareader.prom"
    config = dataclasses.replace(demo_config(tmp_path, profile="empty"),
                                 metrics=MetricsSection(textfile=str(textfile), interval=1.0))
    reader = InProcessReader(config)
    try:
        with Client(config.sockets.reception) as reception:
            reception.call("subscribe", events=["result"])
            send_control(config.bench.control, "insert fresh")
            kiosk = Client(config.sockets.kiosk)
            kiosk.wait_state("choose_method")
            kiosk.call("kiosk.choose_method", method="pin")
            kiosk.wait_state("pin_entry")
            kiosk.call("kiosk.submit_pin", pin="1234")
            kiosk.wait_state("consent")
            kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
            reception.next_event(30, name="result")
            kiosk.close()
            got = samples(reception.call("metrics")["text"])
            assert got[("mynareader_identity_total", (("method", "pin"),))] == 1
            assert got[("mynareader_operation_seconds_count", (("operation", "VerifyPin"),))] == 1
            assert got[("mynareader_store_ok", ())] == 1
        deadline = time.monotonic() + 10
        while "mynareader_identity_total{" not in (textfile.read_text() if textfile.exists() else ""):
            assert time.monotonic() < deadline, "the textfile was not rewritten"
            time.sleep(0.2)
    finally:
        reader.close()
