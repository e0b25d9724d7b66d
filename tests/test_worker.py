"""The native worker process (daemon/worker/process.py) on its own: frames through shared memory, each way it can
fail (SIGKILL, a real SIGSEGV, abort(), a hang past the deadline) ending one request with one log line, restarts
with backoff, the card-face OCR conversation, and fault hooks that only the bench can arm."""
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mynareader.daemon.cardface.reader import RefusedKeys
from mynareader.daemon.face.images import load_image
from mynareader.daemon.face.verifier import Guidance
from mynareader.daemon.worker.errors import WorkerCrashed, WorkerHung
from mynareader.daemon.worker.interface import Spec
from mynareader.daemon.worker.process import ProcessWorker
from mynareader.device.camera.bench import ASSETS
from mynareader.device.registry import open_camera

EXE = str(Path(sys.executable).with_name("mynareader"))
HOLDER = load_image(ASSETS / "holder.png")


@pytest.fixture
def worker():
    w = ProcessWorker(Spec(liveness=False, faults=True), deadline=2.0)
    w.start()
    yield w
    w.close()


def fault_records(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "EVENT", None) == "worker_fault"]


def test_frames_go_through_shared_memory_that_has_no_name_left(worker):
    slot = worker._slot
    assert slot is not None and not Path("/dev/shm", slot.name.lstrip("/")).exists()   # unlinked once mapped
    worker.face_reference(HOLDER)
    camera = open_camera("bench://holder?plain=1")
    outcomes = [worker.face_feed(camera.read(), camera.frame_time()).outcome for _ in range(3)]
    assert any(o is not None for o in outcomes) or worker.face_give_up().frames > 0
    big = np.zeros((1080, 1920, 3), np.uint8) + 90         # larger than the slot: it grows, and loses its name too
    assert worker.face_feed(big, camera.frame_time()).outcome == Guidance(
        "no_face", *worker_guidance("no_face"))
    assert worker._slot is not slot and worker._slot.size >= big.nbytes
    assert not Path("/dev/shm", worker._slot.name.lstrip("/")).exists()
    assert worker.generation == 1


def worker_guidance(code):
    from mynareader.daemon.face.quality import GUIDANCE
    return GUIDANCE[code]


@pytest.mark.parametrize("fault, error, how", [("kill", WorkerCrashed, "killed by SIGKILL"),
                                               ("segv", WorkerCrashed, "killed by SIGSEGV"),
                                               ("abort", WorkerCrashed, "killed by SIGABRT"),
                                               ("hang", WorkerHung, "did not answer within 2 s")])
def test_a_fault_ends_one_request_with_one_log_line_and_the_next_request_works(worker, caplog, fault, error, how):
    caplog.set_level(logging.WARNING)
    assert worker.arm("describe", fault) == "ok"
    with pytest.raises(error, match=how):
        worker.face_reference(HOLDER)
    lines = fault_records(caplog)
    assert len(lines) == 1 and how in lines[0] and "describing the chip photo" in lines[0], lines
    worker.face_reference(HOLDER)                      # waits for the restarted worker, models loaded again
    assert worker.generation == 2 and worker.restarts == 1
    assert len(fault_records(caplog)) == 1


def test_restarts_back_off_while_the_worker_keeps_failing_and_start_over_once_it_answers(worker, caplog):
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        worker.arm("describe", "kill")
        with pytest.raises(WorkerCrashed):
            worker.face_reference(HOLDER)
    worker.face_reference(HOLDER)                      # the third worker answers
    worker.arm("describe", "kill")
    with pytest.raises(WorkerCrashed):
        worker.face_reference(HOLDER)
    delays = [line.rsplit("restarting it in ", 1)[1] for line in fault_records(caplog)]
    assert delays == ["0.5 s", "1.0 s", "0.5 s"]


def test_a_worker_killed_between_requests_is_replaced_before_the_next(worker, caplog):
    import os
    import signal
    caplog.set_level(logging.WARNING)
    os.kill(worker.pid, signal.SIGKILL)
    worker._proc.join(5)
    worker.face_reference(HOLDER)                      # not lost: nothing was being served
    assert worker.generation == 2 and len(fault_records(caplog)) == 1


def test_fault_hooks_need_the_bench():
    import dataclasses
    from mynareader.daemon.app.compose import build_worker
    from mynareader.daemon.config import Bench, Config
    off = ProcessWorker(Spec(faults=False))
    assert off.arm("detect", "segv").startswith("error") and off._armed is None
    no_liveness = ProcessWorker(Spec(liveness=False, faults=True))     # a stage that never runs is refused
    assert no_liveness.arm("liveness", "kill") == "error the liveness stage does not run in this worker"
    assert no_liveness.arm("detect", "melt").startswith("error usage")
    config = Config()
    config = dataclasses.replace(config, devices=dataclasses.replace(config.devices, cardface="sim"))
    assert build_worker(config).spec.faults is False                       # production: no hooks at all
    assert build_worker(dataclasses.replace(config, bench=Bench(control="/tmp/b.sock"))).spec.faults is True


def test_the_card_face_is_read_by_ocr_in_the_worker(tmp_path):
    from mynareader.device.mock.profiles import PROFILES
    from mynareader.device.mock.virtual_card import VirtualCard
    done = subprocess.run([EXE, "cardface", "render", str(tmp_path / "frames"), "--frames", "3"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    w = ProcessWorker(Spec(face=False, ocr=True, faults=True), deadline=5.0)
    try:
        w.start()
        seen = []
        camera = open_camera(f"replay://{tmp_path / 'frames'}?loop=0")
        refused = RefusedKeys()
        result = w.card_face_read(until_gone(camera), None, refused, seen.append)
        card = VirtualCard(PROFILES["fresh"], tmp_path / "card")
        assert result.certain and result.key == card.code_b and len(seen) == result.frames >= 2
        refused.add(None, result.key)                  # a refused key travels with the request, and is honoured
        camera = open_camera(f"replay://{tmp_path / 'frames'}?loop=0")
        again = w.card_face_read(until_gone(camera), None, refused, lambda fr: None)
        assert not again.certain and again.reason == "refused_before"

        def broken():                                  # the camera fails mid-read: the read ends, the error is told
            yield from camera_frames(tmp_path)[:1]
            raise OSError("the camera went away")
        with pytest.raises(OSError, match="went away"):
            w.card_face_read(broken(), None, RefusedKeys(), lambda fr: None)
        assert w.card_face_read(iter(camera_frames(tmp_path)), None, RefusedKeys(), lambda fr: None).certain
        assert w.generation == 1                       # none of this needed a restart
    finally:
        w.close()


def until_gone(camera):
    from mynareader.device.errors import CameraGone
    while True:
        try:
            yield camera.read()
        except CameraGone:
            return


def camera_frames(tmp_path):
    camera = open_camera(f"replay://{tmp_path / 'frames'}?loop=0")
    return [camera.read() for _ in range(3)]


def test_the_face_check_turns_a_crash_into_face_unavailable_and_the_next_attempt_matches(worker):
    import asyncio
    import datetime as dt
    from mynareader.daemon.reception import messages as m
    from mynareader.daemon.service.face_check import FaceCheck
    now = dt.datetime.now(dt.timezone.utc)

    async def go():
        check = FaceCheck(worker, "bench://holder?plain=1")
        worker.arm("describe", "segv")
        await check.set_reference(HOLDER)               # the chip photo's descriptor dies with the worker
        lost = [f(now) async for f in check.attempt()]
        await check.set_reference(HOLDER)
        worker.arm("detect", "kill")                    # mid-attempt: the first frame's detection
        mid = [f(now) async for f in check.attempt()]
        assert check.camera is None                     # the camera is off again
        await check.set_reference(HOLDER)
        ok = [f(now) async for f in check.attempt()]
        await check.end_session()
        return lost, mid, ok
    lost, mid, ok = asyncio.run(go())
    assert [type(e) for e in lost] == [m.FaceUnavailable] and "restarting" in lost[0].message
    assert [type(e) for e in mid] == [m.FaceUnavailable]
    assert isinstance(ok[-1], m.FaceVerdict) and ok[-1].match and worker.generation == 3
