"""Motion blur found in the frame and undone (daemon/cardface/deblur.py), and the reader's use of it."""
import datetime as dt
import math
import random

import cv2
import numpy as np
import pytest

from mynareader.daemon.cardface import deblur
from mynareader.daemon.cardface import ocr as ocr_mod
from mynareader.daemon.cardface.reader import CardFaceReader, ChipHints
from mynareader.device.mock import card_face_render as cfr

FACE = cfr.PrintedFace(dt.date(1980, 2, 17), dt.date(2035, 2, 17), "2285", note="2024年 4月 1日 転入")
CERT_END = dt.datetime(2030, 2, 17, 14, 59, 59, tzinfo=dt.timezone.utc)
KEY = "55021720352285"


@pytest.fixture(scope="module")
def reader():
    # the window counted in frames only: the 12 s of the daemon's window measure the machine's load in a test
    return CardFaceReader(ocr_mod.Ocr(), max_seconds=float("inf"), frame_seconds=float("inf"))


def frame(kind: str, seed: int, **change) -> np.ndarray:
    rng = random.Random(seed)
    d = cfr.Degradation.random(rng, kind)
    if change:
        d = cfr.Degradation(**change)
    return cfr.scene(FACE, rng, d)


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def smear(image: np.ndarray, length: float, angle: float) -> np.ndarray:
    """A camera's motion blur, drawn with the module's own kernel (the renderer's is a different, coarser one)."""
    return cv2.filter2D(image, -1, deblur.kernel(length, angle), borderType=cv2.BORDER_REFLECT)


@pytest.mark.parametrize("length, degrees", [(8, 20), (12, 100), (6, 160)])
def test_a_smear_is_found_with_its_direction_and_length(length, degrees):
    blur = deblur.estimate(grey(smear(frame("good", 0), length, math.radians(degrees))))
    assert blur is not None
    off = abs(math.degrees(blur.angle) - degrees) % 180
    assert min(off, 180 - off) <= 8
    assert any(abs(n - length) <= 1.5 for n in deblur.lengths(grey(frame("good", 0)), blur))


@pytest.mark.parametrize("length, degrees", [(9, 56), (11, 111)])
def test_a_smear_under_sensor_noise_and_jpeg_is_found(length, degrees):
    """A camera adds its noise after the smear, and JPEG drops fine detail: the zeros fill in, the peak stays
    one-sided. The smear here is a rotated straight line, a kernel neither the module nor the renderer uses."""
    line = np.zeros((length, length), np.float32)
    line[length // 2, :] = 1
    turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), degrees, 1.0)
    line = cv2.warpAffine(line, turn, (length, length))
    smeared = cv2.filter2D(frame("good", 0), -1, line / line.sum()).astype(np.float32)
    noisy = np.clip(smeared + np.random.default_rng(0).normal(0, 3, smeared.shape), 0, 255).astype(np.uint8)
    shot = cv2.imdecode(cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], cv2.IMREAD_UNCHANGED)
    blur = deblur.estimate(grey(shot))
    assert blur is not None
    off = abs(math.degrees(blur.angle) - (180 - degrees)) % 180      # the rotation turns counter-clockwise
    assert min(off, 180 - off) <= 8 and abs(blur.length - length) <= 1.5


@pytest.mark.parametrize("kind", ["good", "blur", "noise", "jpeg", "dim", "glare"])
def test_print_noise_and_focus_blur_are_no_motion(kind):
    for seed in range(4):
        assert deblur.estimate(grey(frame(kind, seed))) is None, f"{kind} seed {seed}"


def test_a_flat_or_small_frame_gives_no_estimate():
    assert deblur.estimate(np.full((480, 640), 200, np.uint8)) is None
    assert deblur.estimate(np.zeros((100, 100), np.uint8)) is None


def test_undoing_the_right_smear_brings_the_print_back():
    sharp = grey(frame("good", 0)).astype(np.float32)
    blurred = smear(sharp, 10, 0.4)
    smeared = np.clip(blurred, 0, 255).astype(np.uint8)
    inner = (slice(40, -40), slice(40, -40))

    def error(image):
        return float(np.abs(image.astype(np.float32) - sharp)[inner].mean())
    right, across = error(deblur.undo(smeared, 10, 0.4)), error(deblur.undo(smeared, 10, 0.4 + math.pi / 2))
    assert right < 0.75 * error(smeared) and right < across


def test_a_moving_card_is_read_exactly_from_two_smeared_frames(reader, monkeypatch):
    frames = [frame("motion", 3), frame("motion", 9)]          # smeared 10.4 and 12.8 px
    result = reader.read(iter(frames), ChipHints(1, CERT_END))
    assert result.certain and result.key == KEY and result.frames == 2
    monkeypatch.setattr(deblur, "estimate", lambda g: None)      # the same frames, as they came
    plain = reader.read(iter(frames), ChipHints(1, CERT_END))
    assert not plain.certain and plain.reason in ("fields_unreadable", "not_confirmed")


def test_a_smear_too_long_to_undo_asks_the_patient_to_hold_still(reader):
    fr = reader.read_frame(frame("motion", 5))                  # 13.5 px: not read, even deblurred
    assert fr.fields is None and fr.reason == "moving"


def test_frames_read_as_they_came_never_pay_for_the_deblurring(reader, monkeypatch):
    def refuse(g):
        raise AssertionError("a readable frame was searched for motion blur")
    monkeypatch.setattr(deblur, "estimate", refuse)
    result = reader.read(iter([frame("good", 1), frame("good", 2)]), ChipHints(1, CERT_END))
    assert result.certain and result.key == KEY


def test_an_empty_tray_that_looks_smeared_still_asks_for_the_card(reader, monkeypatch):
    """A tray's own texture could carry a cepstral peak: with no card in the frame the advice stays no_card."""
    monkeypatch.setattr(deblur, "estimate", lambda g: deblur.Blur(6.0, 0.5))
    assert reader.read_frame(cfr.scene_empty(random.Random(0))).reason == "no_card"


def test_a_frame_past_its_seconds_makes_no_further_try(reader, monkeypatch):
    """The worker must answer within its deadline: once a frame has used FRAME_SECONDS, no deblurred read starts."""
    def refuse(*a):
        raise AssertionError("a deblurred read started after the frame's seconds")
    monkeypatch.setattr(deblur, "undo", refuse)
    monkeypatch.setattr(deblur, "lengths", lambda grey, blur: [blur.length])
    hurried = CardFaceReader(reader.ocr, frame_seconds=0.0)
    assert hurried.read_frame(frame("motion", 3)).reason == "moving"
