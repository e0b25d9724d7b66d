"""The OCR reader on generated card faces: exact when certain, and never certain on too little evidence."""
import datetime as dt
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mynareader.daemon.cardface import ocr as ocr_mod
from mynareader.daemon.cardface.fields import GENERATIONS
from mynareader.daemon.cardface.reader import CardFaceReader, ChipHints, RefusedKeys
from mynareader.device.mock import card_face_render as cfr

EXE = str(Path(sys.executable).with_name("mynareader"))
FACE = cfr.PrintedFace(dt.date(1980, 2, 17), dt.date(2035, 2, 17), "2285", note="2024年 4月 1日 転入")
CERT_END = dt.datetime(2030, 2, 17, 14, 59, 59, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def reader():
    # the window counted in frames only: the 12 s of the daemon's window measure the machine's load in a test
    return CardFaceReader(ocr_mod.Ocr(), max_seconds=float("inf"), frame_seconds=float("inf"))


def frames(face, kind="good", seed=0, n=6):
    rng = random.Random(seed)
    return [cfr.scene(face, rng, cfr.Degradation.random(rng, kind)) for _ in range(n)]


def test_the_reference_card_reads_exactly_from_two_frames(reader):
    result = reader.read(iter(frames(FACE, "good")), ChipHints(1, CERT_END))
    assert result.certain and result.key == "55021720352285" and result.frames == 2
    tilted = reader.read(iter(frames(FACE, "tilt")), ChipHints(1, CERT_END))
    assert tilted.certain and tilted.key == "55021720352285" and tilted.frames >= 2


@pytest.mark.parametrize("face", [
    cfr.PrintedFace(dt.date(1989, 3, 1), dt.date(2031, 3, 1), "0417"),                         # 平成元年
    cfr.PrintedFace(dt.date(1985, 4, 3), dt.date(2033, 4, 3), "9061", gregorian_birth=True),   # foreign resident
    cfr.PrintedFace(dt.date(2019, 5, 1), dt.date(2029, 5, 1), "1100"),                         # 令和元年
])
def test_gannen_and_gregorian_faces(reader, face):
    result = reader.read(iter(frames(face, seed=3)))
    expected = GENERATIONS["2020"].key(cfr_truth(face))
    assert result.certain and result.key == expected


def cfr_truth(face):
    from mynareader.daemon.cardface.fields import Fields
    return Fields("2020", face.birth, face.expiry, face.security_code)


def test_one_frame_or_the_same_frame_repeated_is_never_certain(reader):
    one = frames(FACE, n=1)
    assert reader.read(iter(one)).reason == "not_confirmed"
    frozen = reader.read(iter(one * 5))                  # a frozen camera repeats one frame: no second look
    assert not frozen.certain and frozen.reason == "not_confirmed" and frozen.frames == 1


def test_a_certificate_that_does_not_end_on_the_printed_birthday_stops_the_read(reader):
    other_day = ChipHints(1, CERT_END + dt.timedelta(days=3))
    result = reader.read(iter(frames(FACE, n=2)), other_day)
    assert not result.certain and result.reason == "chip_disagrees" and result.key is None


def test_a_refused_key_is_not_read_as_certain_again(reader):
    refused = RefusedKeys()
    refused.add(7, "55021720352285")
    assert reader.read(iter(frames(FACE, n=2)), ChipHints(7, CERT_END), refused).reason == "refused_before"
    assert reader.read(iter(frames(FACE, n=2)), ChipHints(8, CERT_END), refused).certain   # another card


def test_no_card_and_a_card_too_far_are_reasons(reader):
    rng = random.Random(1)
    assert reader.read(iter([cfr.scene_empty(rng) for _ in range(3)])).reason == "no_card"
    rng = random.Random(2)
    tiny = [cfr.scene(FACE, rng, cfr.Degradation(scale=0.2)) for _ in range(3)]     # ~3 px/mm: no text to read
    assert reader.read(iter(tiny)).reason == "too_far"


def test_a_small_far_card_is_read_from_the_whole_frame(reader):
    result = reader.read(iter(frames(FACE, "far", seed=4)), ChipHints(1, CERT_END))
    assert result.certain and result.key == "55021720352285"


def test_models_are_checked_against_their_pinned_hashes(monkeypatch):
    assert set(ocr_mod.check_models()) == {"det", "rec", "cls"}
    name, _ = ocr_mod.MODELS["rec"]
    monkeypatch.setitem(ocr_mod.MODELS, "rec", (name, "0" * 64))
    with pytest.raises(ocr_mod.OcrUnavailable, match="not the pinned one"):
        ocr_mod.Ocr()


def test_cli_read_json_keeps_the_code_behind_reveal(tmp_path):
    paths = []
    for i, frame in enumerate(frames(FACE, n=2)):
        paths.append(tmp_path / f"frame{i}.png")     # synthetic bench frames, written only for the command
        from PIL import Image
        Image.fromarray(frame).save(paths[-1])
    plain = subprocess.run([EXE, "cardface", "read", "--json", *map(str, paths)], capture_output=True, text=True)
    out = json.loads(plain.stdout)
    assert plain.returncode == 0 and out["certain"] is True and out["reason"] is None and "code" not in out
    assert "2285" not in plain.stdout and "55021720352285" not in plain.stdout
    shown = json.loads(subprocess.run([EXE, "cardface", "read", "--json", "--reveal", *map(str, paths)],
                                      capture_output=True, text=True).stdout)
    assert shown["code"] == "55021720352285"
    one = subprocess.run([EXE, "cardface", "read", "--json", str(paths[0])], capture_output=True, text=True)
    assert one.returncode == 1 and json.loads(one.stdout)["reason"] == "not_confirmed"
    bad = subprocess.run([EXE, "cardface", "read", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "not an image" in bad.stderr


def test_profiles_print_their_own_chip_dates():
    from mynareader.device.mock.profiles import PROFILES, card_dates
    face = cfr.face_of_profile(PROFILES["fresh"])
    dates = card_dates(PROFILES["fresh"], dt.date.today())
    assert (face.birth, face.expiry, face.security_code) == (dates.birth, dates.card_expiry, "2285")
    assert "2285" not in repr(face)


def test_a_replay_scene_of_the_virtual_card_is_read_through_the_camera_registry(tmp_path):
    from mynareader.daemon.service.card_face import CardFaceSource
    from mynareader.device.mock.profiles import PROFILES
    from mynareader.device.mock.virtual_card import VirtualCard
    done = subprocess.run([EXE, "cardface", "render", str(tmp_path / "frames"), "--frames", "3"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from mynareader.daemon.worker.inthread import ThreadWorker
    from mynareader.daemon.worker.interface import Spec
    source = CardFaceSource(f"replay://{tmp_path / 'frames'}?loop=0", worker=ThreadWorker(Spec(face=False, ocr=True)))
    code, certain = source.read()
    card = VirtualCard(PROFILES["fresh"], tmp_path / "card")
    assert certain and code.bytes_for_apdu() == card.code_b.encode()


def test_a_new_card_generation_is_an_entry_not_a_rewrite(monkeypatch):
    from mynareader.daemon.cardface import fields as f

    class Next(f.Generation2020):     # e.g. the 2026 design: Gregorian birth date, a 6-digit number
        name, key_digits, code_digits = "next", 6, 6

        @staticmethod
        def key(fields):
            return fields.number

    monkeypatch.setitem(f.GENERATIONS, "next", Next())
    reader = CardFaceReader(ocr=None, generation="next")
    lines = [f.Line("1990年 6月 1日生", 214, 205, 0.99), f.Line("2036年 6月 1日まで有効", 214, 416, 0.99),
             f.Line("228519", 685, 340, 0.99)]
    fields = reader.generation.parse(lines)
    assert reader.generation.key(fields) == "228519" and fields.birth_gregorian
    with pytest.raises(f.FieldError, match="code_unreadable"):
        reader.generation.parse(lines[:2] + [f.Line("2285", 685, 340, 0.99)])


@pytest.mark.parametrize("degradation", [
    cfr.Degradation(off_frame=0.1, scale=0.8),                        # an edge out of the frame: no outline
    cfr.Degradation(off_frame=0.08, scale=0.8, upside_down=True),     # and upside down: the text tells which way
    cfr.Degradation(border_glare=0.05, scale=0.8),                    # glare across the border
], ids=["off_frame", "off_frame_upside_down", "border_glare"])
def test_a_card_without_a_whole_outline_is_read_exactly(reader, degradation):
    rng = random.Random(11)
    shots = [cfr.scene(FACE, rng, degradation) for _ in range(4)]
    paths = []
    result = reader.read(iter(shots), ChipHints(1, CERT_END), on_frame=lambda fr: paths.append(fr.lines))
    assert result.certain and result.key == "55021720352285"
    if degradation.off_frame:      # the outline was not whole: the fields came from the frame itself
        assert all(p is not None and p[0] == "frame" for p in paths)


def test_the_outline_alone_is_not_needed_even_when_found():
    """A frame read from its whole text gives the same fields as the flattened card."""
    from mynareader.daemon.cardface.reader import FRAME_DET_SIDE
    rng = random.Random(12)
    shot = cfr.scene(FACE, rng, cfr.Degradation(rotate_deg=7))
    o = ocr_mod.Ocr()
    fields = GENERATIONS["2020"].parse(o.lines(shot, FRAME_DET_SIDE))
    assert GENERATIONS["2020"].key(fields) == "55021720352285"


def test_a_decoy_expiry_in_the_note_field_is_never_taken(reader):
    decoy = cfr.PrintedFace(FACE.birth, FACE.expiry, FACE.security_code, note="2031年 2月17日まで有効")
    result = reader.read(iter(frames(decoy, seed=5)), ChipHints(1, CERT_END))
    assert not result.certain and result.key is None     # two expiry dates on one face: nothing is sent


def test_frames_of_two_cards_never_make_a_certain_code(reader):
    """Frames alternate between two cards that differ only in the security code: no code is stated certain."""
    other = cfr.PrintedFace(FACE.birth, FACE.expiry, "2288", note=FACE.note)
    a, b = frames(FACE, "off_frame", seed=6, n=3), frames(other, "off_frame", seed=7, n=3)
    mixed = [a[0], b[0], a[1], b[1], a[2], b[2]]
    result = reader.read(iter(mixed), ChipHints(1, CERT_END))
    assert not result.certain and result.reason in ("frames_disagree", "not_confirmed")


def test_a_second_look_reads_the_line_again_in_each_variant(reader):
    """The real engine: each variant of a field's crop is recognised, with a confidence per character."""
    from mynareader.daemon.cardface.rectify import brighten, rectify
    from mynareader.daemon.cardface.variants import VARIANTS
    frame = brighten(frames(FACE, n=1)[0])
    card = rectify(frame).card
    fr = reader.read_frame(frame)
    assert card is not None and fr.lines is not None and fr.lines[0] == "card"
    code_line = fr.lines[1][2]
    looks = reader.ocr.second_look(card, code_line)
    assert len(looks) == len(VARIANTS)
    assert all(look.text == "2285" and len(look.confs) == 4 and look.quad == code_line.quad for look in looks)


def test_a_line_reads_the_same_alone_as_among_the_others(reader):
    """Lines are recognised one at a time at their own width, so the three boxes the next frame re-reads alone
    give what they gave among every box of the card (a padded batch changed a line's confidences)."""
    from mynareader.daemon.cardface.rectify import brighten, rectify
    card = rectify(brighten(frames(FACE, n=1)[0])).card
    assert card is not None
    every = reader.ocr.lines(card, det_side=512, turn=False)
    assert len(every) > 6
    for line in every:
        alone = reader.ocr.reread(card, [line])
        again = reader.ocr._recognise([ocr_mod._crop(card[:, :, ::-1].copy(), np.asarray(line.quad, np.float32))],
                                      [np.asarray(line.quad, np.float32)])
        assert [(x.text, x.score, x.confs) for x in again] == [(line.text, line.score, line.confs)]
        assert alone        # the padded box is read too
