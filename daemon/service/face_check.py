"""The face check as the service runs it: the camera is open only during an attempt; camera frames are read on
one face thread and handed to the native worker (daemon/worker: the models in their own process), so neither the
event loop nor this process waits on a model.

A worker that crashes or hangs mid-attempt (WorkerFault) ends the attempt as FaceUnavailable: no verdict, so no
face try is spent; the patient is offered the PIN or staff, and the worker is restarted for the next attempt.
The chip photo's descriptor lives in the worker; a worker restarted since it was set has lost it, and the attempt
says so the same way.

Bench commands for the camera (show, dark, noface, two-faces, unplug, replug) are remembered and replayed onto
whichever camera instance is open, so a test can set the scene before the attempt starts.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import AsyncIterator, Callable

from ...device.camera import Camera
from ...device.camera.bench import check_command
from ...device.errors import CameraGone, DeviceError
from ...device.registry import open_camera
from ..face.flash import Flash, palette
from ..face.images import to_rgb
from ..face.liveness import Decision
from ..face.verifier import Guidance, Verdict
from ..reception import messages as m
from ..worker.errors import WorkerError
from ..worker.interface import Worker

log = logging.getLogger(__name__)

ATTEMPT_SECONDS = 20.0   # an attempt that sees no usable face for this long counts as not matched
WORKER_LOST = "the face check stopped unexpectedly and is restarting"


class FaceCheck:
    def __init__(self, worker: Worker, camera_url: str, attempt_seconds: float = ATTEMPT_SECONDS):
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="face")
        self.worker = worker
        self.camera_url = camera_url
        self.attempt_seconds = attempt_seconds
        self.liveness = worker.spec.liveness
        if not self.liveness:
            log.warning("liveness check is OFF (policy.liveness = false): a printed photo or a screen can pass "
                        "face authentication; use it only with staff watching the counter")
        self.camera: Camera | None = None
        self.bench_commands: list[str] = []
        self._cancel = False
        self._flash_ack: tuple[str, float] | None = None   # (nonce, time.monotonic()) from kiosk.flash_shown
        self._flash: Flash | None = None                   # the attempt's colours, once the worker asked for them
        self._flash_lit: str | None = None                 # the nonce whose start the worker was told
        self._reference: int | None = None                 # the worker generation holding the chip photo
        self.last_decision: Decision | None = None         # the liveness signals behind the last verdict (bench)

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def warm_up(self) -> None:
        """Load the models (at start-up, so the first patient does not wait for them)."""
        await self._run(self.worker.start)

    async def set_reference(self, photo) -> None:
        self._reference = None
        try:
            # converted on the face thread: a decode or copy here would hold the event loop
            await self._run(lambda: self.worker.face_reference(to_rgb(photo)))
        except WorkerError:
            return          # logged by the worker; the attempt that follows finds no photo and says so
        self._reference = self.worker.generation

    def _open(self) -> Camera:
        if self.camera is None:
            self.camera = open_camera(self.camera_url)
            for line in self.bench_commands:
                self.camera.control(line)
        return self.camera

    def flash_shown(self, nonce: str) -> bool:
        """The patient screen says it painted the first colour of this attempt's sequence (now). False when no
        sequence with that nonce is waiting (a stale or stray call: ignored)."""
        flash = self._flash
        if flash is None or flash.nonce != nonce or self._flash_ack is not None:
            return False
        self._flash_ack = (nonce, time.monotonic())
        return True

    def _frame(self) -> Guidance | Verdict | None:
        camera = self._open()
        ack, flash, shown = self._flash_ack, self._flash, None
        if ack is not None and flash is not None and ack[0] == flash.nonce and self._flash_lit != flash.nonce:
            shown = camera.clock(ack[1])
            self._flash_lit = flash.nonce
            camera.flash(flash.rgb(), flash.step, shown, palette())   # the bench lights its scene; real cameras see it
        reply = self.worker.face_feed(camera.read(), camera.frame_time(), shown)
        self._flash = reply.flash
        outcome = reply.outcome
        if isinstance(outcome, Guidance) and outcome.code.startswith("turn_"):
            camera.cue(outcome.code[len("turn_"):])   # a bench person reads the screen; real cameras ignore it
        if isinstance(outcome, Verdict):
            self.last_decision = reply.decision
            if reply.decision is not None and reply.decision.flash == "not_shown":
                log.warning("the patient screen did not show the face check's colours: liveness fell back to the "
                            "turn, blink and 3D checks", extra={"EVENT": "flash_not_shown"})
        return outcome

    async def attempt(self) -> AsyncIterator[Callable]:
        """Yields event factories (call with ``now``): guidance, then one verdict (or FaceUnavailable)."""
        self._cancel = False
        self._flash_ack = self._flash = self._flash_lit = None
        try:
            if self._reference != self.worker.generation:
                raise WorkerError("the chip photo is not in the worker (it failed or restarted)")
            await self._run(self.worker.face_reset)
            deadline = time.monotonic() + self.attempt_seconds
            while not self._cancel:
                try:
                    outcome = await self._run(self._frame)
                except (CameraGone, DeviceError) as exc:
                    await self._run(self._close)
                    reason = str(exc)
                    yield lambda now: m.FaceUnavailable(now, reason)
                    return
                if isinstance(outcome, Guidance):
                    g = outcome
                    yield lambda now: m.FaceGuidance(now, g.code, g.ja, g.en, g.flash)
                elif isinstance(outcome, Verdict):
                    v = outcome
                    yield lambda now: m.FaceVerdict(now, v.match, v.score, v.threshold, v.model, v.liveness)
                    return
                if time.monotonic() > deadline:
                    v = await self._run(self.worker.face_give_up)
                    yield lambda now: m.FaceVerdict(now, False, v.score, v.threshold, v.model, v.liveness)
                    return
                await asyncio.sleep(0)
        except WorkerError:
            # the worker logged the fault in one line; no verdict: the patient's face tries are untouched
            self._reference = None
            await self._run(self._close)
            yield lambda now: m.FaceUnavailable(now, WORKER_LOST, "face_check_unavailable")

    def _close(self) -> None:
        if self.camera is not None:
            try:
                self.camera.close()
            finally:
                self.camera = None

    async def stop(self) -> None:
        """End the attempt and turn the camera off (and forget the photo's descriptor when the session ends)."""
        self._cancel = True
        await self._run(self._close)

    async def end_session(self) -> None:
        await self.stop()
        if self._reference is not None:
            try:       # the face thread runs in order: a next card's photo, set after this, is not undone
                await self._run(self.worker.face_clear)
            except WorkerError:
                pass        # a worker that died took the descriptor with it
            self._reference = None

    def bench_control(self, line: str) -> str:
        """A bench camera command; applied now if a camera is open, and to every camera opened later."""
        problem = check_command(line)
        if problem:
            return problem
        self.bench_commands.append(line)
        if self.camera is not None:
            self._pool.submit(self.camera.control, line)
        return "ok"
