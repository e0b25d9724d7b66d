"""A face reception end to end: pcscd + vpcd + the virtual card in its own process, and the real daemon whose
card-face source is a camera (bench://card, following the mock's slot) read by OCR - no code handed over."""
import pytest

from helpers.daemon_process import BenchDaemon

pytestmark = pytest.mark.pcscd


@pytest.fixture
def bench(pcscd, tmp_path):
    d = BenchDaemon(tmp_path, settings={"devices.cardface": "bench://card?control={card_control}"})
    yield d
    d.close()


def test_face_reception_with_the_card_face_read_by_ocr_through_pcscd(bench):
    assert bench.card("insert fresh") == "ok"
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    bench.wait_state("consent", timeout=60)
    bench.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    result = bench.event("result")
    assert result["identity"]["method"] == "face"
    assert "code_b=10" in bench.card("status")          # the code read from the face was right first time
    log = (bench.tmp / "daemon.log").read_text()
    assert "card face: certain" in log
    assert "2285" not in log                               # the printed security code never reaches the log


def test_unreadable_card_face_sends_nothing_through_pcscd(bench):
    assert bench.camera("cardface away") == "ok"           # the card is on the reader but not under the camera
    bench.card("insert fresh")
    bench.wait_state("choose_method")
    bench.kiosk.call("kiosk.choose_method", method="face")
    step = bench.wait_state("choose_method", timeout=60)["step"]
    assert step["data"]["face_unavailable"] == "card_face_unreadable" and "pin" in step["options"]
    assert "code_b=10" in bench.card("status")
