"""Liveness through the real verifier and FaceCheck on the bench camera's scenes; the flow and the policy."""
import asyncio
import logging
import random

import numpy as np
import pytest

from mynareader.daemon.face.flash import draw, palette
from mynareader.daemon.face.images import load_image
from mynareader.daemon.face.liveness import LivenessCheck
from mynareader.daemon.face.pipeline import FacePipeline
from mynareader.daemon.face.verifier import FaceVerifier, Guidance, Verdict
from mynareader.daemon.reception import messages as m
from mynareader.daemon.reception.policy import Policy
from mynareader.daemon.store import Store
from mynareader.device.registry import open_camera
from mynareader.device.camera.bench import ASSETS, _face_image
from mynareader.device.camera.liveness_scenes import KEYPOINTS

from helpers.flow import CODE_B, T0, Driver


@pytest.fixture(scope="module")
def pipeline():
    return FacePipeline()


@pytest.fixture(scope="module")
def verifier(pipeline):
    v = FaceVerifier(pipeline, liveness=True)
    v.set_reference(load_image(ASSETS / "holder.png"))
    return v


def attempt(verifier, scene, seed=0, direction=None, screen=True, plain=False):
    """One attempt as FaceCheck runs it: the screen shows the colours (unless ``screen`` is False) and lights the
    scene, the camera's person sees the cue. Returns (verdict, guidance codes)."""
    cam = open_camera(f"bench://holder?seed={seed}" + ("&plain=1" if plain else ""))
    cam.control(f"scene {scene}")
    verifier.reset()
    # the draw, the cue and its moment fixed by the seed, so a test is the same run every time
    rng = random.Random(seed)
    settings = verifier.liveness_settings
    if verifier.live is not None:       # liveness on
        verifier.live = LivenessCheck(settings, choose=(lambda options: direction) if direction else rng.choice,
                                      delay=rng.uniform(0, settings.cue_delay),
                                      flash=draw(settings.flash, choose=rng.choice) if settings.flash else None)
    codes = []
    for _ in range(90):
        out = verifier.feed(cam.read(), cam.frame_time())
        if isinstance(out, Guidance):
            codes.append(out.code)
            if out.code == "flash" and screen:
                start = cam.clock(0.0)
                verifier.flash_shown(start)
                cam.flash(verifier.flash.rgb(), verifier.flash.step, start, palette())
            if out.code.startswith("turn_"):
                cam.cue(out.code[5:])
        elif isinstance(out, Verdict):
            return out, codes
    raise AssertionError(f"no verdict for {scene}: {codes}")


def test_bench_texture_keypoints_are_the_detectors(pipeline):
    for name, points in KEYPOINTS.items():
        (face,) = pipeline.detect(np.asarray(_face_image(name)))
        assert np.abs(face.keypoints[:4] - np.asarray(points)).max() < 3, name


@pytest.mark.parametrize("direction", ["left", "right"])
def test_a_live_holder_passes_and_matches_after_the_cue(verifier, direction):
    verdict, codes = attempt(verifier, "live", seed=1, direction=direction)
    assert codes[:2] == ["flash", f"turn_{direction}"]
    assert verdict.match and verdict.liveness == "passed" and verifier.last_decision.flash == "passed"
    assert verifier.last_decision.blinks >= 1 and verifier.last_decision.planarity > verifier.liveness_settings.planar_max


def test_a_live_impostor_passes_liveness_but_does_not_match(verifier):
    verdict, _ = attempt(verifier, "live-other", seed=2, plain=True)   # the counter's usual light, no glasses
    assert not verdict.match and verdict.liveness == "passed"


@pytest.mark.parametrize("scene", ["print", "print-bent", "screen", "mask"])
def test_attacks_fail_liveness_even_though_the_face_matches(verifier, scene):
    verdict, codes = attempt(verifier, scene, seed=3)
    assert any(c.startswith("turn_") for c in codes)
    assert not verdict.match and verdict.liveness.startswith("failed"), verdict
    assert verdict.score >= verdict.threshold or verdict.frames < 2   # the photo itself is the holder's


def test_a_replay_cannot_follow_a_cue_it_did_not_record(verifier):
    # the recording turns to the left; asked to turn right, it fails whatever moment it was started at
    for seed in range(3):
        verdict, _ = attempt(verifier, "replay", seed=seed, direction="right", screen=False)
        assert not verdict.match and verdict.liveness in ("failed: wrong_way", "failed: no_turn"), verdict


def test_a_replay_that_turns_the_right_way_is_stopped_by_the_screens_light(verifier):
    # the scheme-aware player follows the cue it sees and paints a guess of the colours: the turn passes, the
    # light does not (the guess is not this attempt's draw, and the glass adds light the face does not shape)
    for seed in (1, 5):
        verdict, _ = attempt(verifier, "replay-aware", seed=seed)
        assert not verdict.match, verdict
        assert verifier.last_decision.flash in ("added_light", "out_of_step", "no_reflection"), verifier.last_decision


def test_a_screen_that_cannot_show_the_colours_falls_back_to_the_other_checks(verifier):
    verdict, codes = attempt(verifier, "live", seed=1, direction="left", screen=False)
    assert codes[:2] == ["flash", "turn_left"]
    assert verdict.match and verifier.last_decision.flash == "not_shown"     # the turn, blink and 3D decided
    verdict, _ = attempt(verifier, "print", seed=3, screen=False)
    assert not verdict.match and verdict.liveness == "failed: no_turn"      # never no check


def test_liveness_off_lets_a_print_through(pipeline):
    v = FaceVerifier(pipeline)                  # the verifier alone: what policy.liveness = false gives
    v.set_reference(load_image(ASSETS / "holder.png"))
    verdict, _ = attempt(v, "print", seed=4)
    assert verdict.match and verdict.liveness == "off"


def test_face_check_runs_liveness_by_default_and_rejects_a_print():
    from mynareader.daemon.service.face_check import FaceCheck
    from mynareader.daemon.worker.inthread import ThreadWorker
    from mynareader.daemon.worker.interface import Spec

    async def go(scene):
        check = FaceCheck(ThreadWorker(Spec()), "bench://holder?seed=5")
        check.bench_control(f"scene {scene}")
        await check.set_reference(load_image(ASSETS / "holder.png"))
        events = [f(T0) async for f in check.attempt()]     # events carry an aware time
        await check.end_session()
        return events
    events = asyncio.run(go("print"))
    verdict = events[-1]
    assert isinstance(verdict, m.FaceVerdict) and not verdict.match and verdict.liveness.startswith("failed")
    cue = [e for e in events if isinstance(e, m.FaceGuidance) and e.code.startswith("turn_")]
    assert len(cue) == 1 and "向けてください" in cue[0].ja and cue[0].en.isascii()
    events = asyncio.run(go("live"))
    assert events[-1].match and events[-1].liveness == "passed"


def test_policy_liveness_off_logs_a_warning(caplog):
    from mynareader.daemon.app.compose import build_face, build_worker
    from mynareader.daemon.config import load
    assert Policy().liveness is True and load(None, {}, ["policy.liveness=false"]).policy.liveness is False
    with caplog.at_level(logging.WARNING):
        config = _config(liveness=False)
        check = build_face(config, build_worker(config))
    assert check is not None and check.liveness is False
    assert any("liveness check is OFF" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert build_face(_config(), build_worker(_config())).liveness is True
    assert not any("liveness" in r.getMessage() for r in caplog.records)


def _config(**policy):
    import dataclasses
    from mynareader.daemon.config import Config
    config = Config()
    return dataclasses.replace(config, devices=dataclasses.replace(config.devices, cardface="sim",
                                                                   camera="bench://holder"),
                               policy=dataclasses.replace(config.policy, **policy))


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "state")
    yield s
    s.close()


def face_attempts(d, livenesses):
    from mynareader.device.pin import Pin
    d.send(m.MethodChosen, method="face")
    d.send(m.CodeBRead, code=Pin(CODE_B, min_len=14, max_len=14), certain=True)
    d.send(m.CodeBAccepted)
    d.send(m.FacePhotoRead)
    for live in livenesses:
        d.send(m.FaceVerdict, match=False, score=0.9, threshold=0.45, model="t", liveness=live)
        if d.machine.state != "face_matching":
            break


def test_failed_liveness_is_a_failed_face_attempt_and_staff_see_it(store):
    d = Driver(store)
    d.place()
    face_attempts(d, ["failed: flat", "failed: no_turn", "failed: no_blink"])
    told = [a.message for a in d.actions if isinstance(a, m.Show)]
    assert told.count("face_liveness_failed") == 2 and "face_failed" in told    # told what to do, then PIN/staff
    assert d.machine.state == "choose_method" and d.last_show().options == ("pin", "staff")
    assert store.failures(d.machine.card_key, "face", 0) == 1                    # the same lockout count
    d.pin_path("1234")
    d.consent_all()
    failures = d.results[0]["face_failures"]
    assert [f["outcome"] for f in failures] == ["liveness_failed"] * 3
    assert failures[0]["liveness"] == "failed: flat"


def test_three_sessions_of_failed_liveness_lock_face_for_the_card(store):
    for _ in range(Policy().face_lock_sessions):
        d = Driver(store)
        d.place()
        face_attempts(d, ["failed: no_turn"] * 3)
        d.send(m.CardRemoved)
    d = Driver(store)
    d.place()
    assert d.machine.face_blocked == "face_locked"
