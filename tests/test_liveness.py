"""The liveness signals on synthetic landmark sequences (no model): blink, turn on the cue, planarity."""
import math

import numpy as np
import pytest

from mynareader.daemon.face import liveness as L

EAR_OPEN = 0.32


def head(yaw_deg=0.0, flat=False, lids=1.0, tilt_deg=0.0, focal=900.0, seed=0):
    """468 mesh points of a synthetic face seen by a camera: a 3D head (or a flat print of it when ``flat``,
    tilted by ``tilt_deg`` about the vertical axis), turned by ``yaw_deg`` toward the patient's left.
    ``lids`` 1 = eyes open, 0 = closed."""
    rng = np.random.default_rng(seed)
    p = np.zeros((468, 3))
    p[:, 0], p[:, 1] = rng.uniform(-55, 55, 468), rng.uniform(-70, 70, 468)
    p[:, 2] = 60 * np.clip(1 - (p[:, 0] / 70) ** 2 - (p[:, 1] / 90) ** 2, 0, None)
    p[L.CHEEK_R], p[L.CHEEK_L] = (-70, 0, 0), (70, 0, 0)
    p[L.NOSE] = (0, 15, 95)
    for side, ((a, b), (u1, u2), (l1, l2)) in zip((-1, 1), L.EYES):
        cx = side * 32
        p[a], p[b] = (cx - side * 14, -20, 50), (cx + side * 14, -20, 50)
        gap = EAR_OPEN * 28 * lids / 2
        p[u1], p[u2] = (cx - 5, -20 - gap, 55), (cx + 5, -20 - gap, 55)
        p[l1], p[l2] = (cx - 5, -20 + gap, 55), (cx + 5, -20 + gap, 55)
    if flat:
        p[:, 2] = 0
        yaw_deg = tilt_deg
    a = math.radians(yaw_deg)
    x = p[:, 0] * math.cos(a) + p[:, 2] * math.sin(a)
    z = -p[:, 0] * math.sin(a) + p[:, 2] * math.cos(a)
    k = focal / (focal - z)
    return np.c_[320 + x * k, 240 + p[:, 1] * k, z]


def test_eye_aspect_ratio_and_blinks():
    assert L.eye_aspect_ratio(head()) == pytest.approx(EAR_OPEN, rel=0.05)
    assert L.eye_aspect_ratio(head(lids=0.1)) < 0.2 * EAR_OPEN
    ears = [L.eye_aspect_ratio(head(lids=v)) for v in (1, 1, 1, 0.3, 0.1, 0.6, 1, 1)]
    assert L.count_blinks(ears, 0.75) == 1
    assert L.count_blinks([L.eye_aspect_ratio(head())] * 10, 0.75) == 0
    assert L.count_blinks(ears[:5], 0.75) == 0          # closed but not yet open again: not a blink


def test_a_blink_half_caught_between_frames_counts_and_jitter_does_not():
    """At 15 fps a 0.3 s blink's lowest frame is often only ~0.78 of the open eye (bench, seeds 1000+): the default
    ratio counts it, so the check does not wait ~2 s for the next blink; frame-to-frame jitter (<= 6%) is no blink."""
    ratio = L.Settings().blink_ratio
    rng = np.random.default_rng(3)
    open_ear = 0.33
    jitter = list(open_ear * (1 + rng.uniform(-0.06, 0.06, 40)))
    assert L.count_blinks(jitter, ratio) == 0
    shallow = jitter[:8] + [0.9 * open_ear, 0.78 * open_ear, 0.93 * open_ear] + jitter[8:]
    assert L.count_blinks(shallow, ratio) == 1
    assert L.count_blinks(shallow, 0.75) == 0           # the old ratio missed it


def test_yaw_shift_follows_the_patients_left_and_right():
    assert abs(L.yaw_shift(head())) < 0.01
    assert L.yaw_shift(head(25)) > 0.2                  # the patient's left: the nose moves to the image's right
    assert L.yaw_shift(head(-25)) < -0.2
    assert abs(L.yaw_shift(head(flat=True, tilt_deg=35))) < 0.05   # a tilted print hardly moves its nose


def test_a_plane_fits_one_homography_and_a_head_does_not():
    assert L.planarity_residual(head(flat=True), head(flat=True, tilt_deg=35)) < 1e-6
    assert L.planarity_residual(head(flat=True), head(flat=True, tilt_deg=35, focal=250)) < 1e-6
    assert L.planarity_residual(head(), head(25)) > L.Settings().planar_max


def run(frames, settings=L.Settings(), direction="left", fps=15.0):
    """Feed (points) per frame; ``frames`` is a function of (frame index, cue frame or None)."""
    check = L.LivenessCheck(settings, choose=lambda options: direction, delay=0.0)
    cue_at = None
    for i in range(120):
        out = check.feed(frames(i, cue_at), i / fps)
        if isinstance(out, L.Cue):
            assert out.direction == direction and out.code == f"turn_{direction}"
            cue_at = i
        elif isinstance(out, L.Decision):
            return out, cue_at
    raise AssertionError("no decision")


def person(turn_sign=1.0, react=8, blink_at=1, flat=False, turns=True):
    """A face that blinks at frame ``blink_at`` and turns 25 deg ``react`` frames after the cue."""
    def frame(i, cue_at):
        lids = 0.1 if blink_at is not None and i in (blink_at, blink_at + 1) else 1.0
        yaw = 0.0
        if turns and cue_at is not None and i >= cue_at + react:
            yaw = turn_sign * min(25.0, 8.0 * (i - cue_at - react + 1))
        return head(yaw, flat=flat, tilt_deg=1.4 * yaw, lids=lids)
    return frame


def test_a_person_who_blinks_and_turns_on_cue_is_live():
    for direction, sign in (("left", 1), ("right", -1)):
        decision, cue_at = run(person(sign), direction=direction)
        assert decision.live and decision.reason == "live", decision
        assert decision.blinks == 1 and decision.planarity > L.Settings().planar_max
        assert cue_at is not None and decision.seconds < 2.0


def test_a_turn_the_other_way_fails():
    decision, _ = run(person(-1), direction="left")
    assert not decision.live and decision.reason == "wrong_way"


def test_a_turn_before_the_cue_could_be_seen_fails():
    decision, _ = run(person(1, react=0), direction="left")      # already turning in the cue's frame + 1
    assert not decision.live and decision.reason == "early"


def test_a_late_turn_fails():
    decision, _ = run(person(1, react=25), direction="left")     # 1.7 s after the cue at 15 fps
    assert not decision.live and decision.reason == "no_turn"


def test_no_blink_fails_after_the_turn():
    decision, _ = run(person(1, blink_at=None), direction="left")
    assert not decision.live and decision.reason == "no_blink"


def test_a_tilted_print_does_not_turn():
    decision, _ = run(person(1, flat=True, blink_at=None), direction="left")
    assert not decision.live and decision.reason == "no_turn"


def test_a_plane_that_fakes_the_turn_is_flat():
    # a wide-angle camera close to a print tilted hard: perspective alone moves the nose between the cheeks;
    # with a lower turn threshold the turn is accepted, and the homography finds one plane
    def frame(i, cue_at):
        tilt = 0.0 if cue_at is None or i < cue_at + 5 else min(60.0, 20.0 * (i - cue_at - 4))
        lids = 0.1 if i in (1, 2) else 1.0
        return head(flat=True, tilt_deg=tilt, focal=160, lids=lids)
    settings = L.Settings(turn=0.02)
    assert L.yaw_shift(head(flat=True, tilt_deg=60, focal=160)) > 0.02
    decision, _ = run(frame, settings)
    assert not decision.live and decision.reason == "flat" and decision.planarity < 1e-6
