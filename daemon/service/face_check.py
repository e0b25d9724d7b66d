"""The face check as the service runs it: the camera is open only during an attempt, and all face work runs
on one worker thread so the event loop never waits on a model.

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
from ...device.errors import CameraGone
from ...device.registry import open_camera
from ...device.camera.bench import check_command
from ...device.errors import DeviceError
from ..face.flash import palette
from ..face.images import to_rgb
from ..face.pipeline import FacePipeline
from ..face.verifier import FaceVerifier, Guidance, Verdict
from ..reception import messages as m

log = logging.getLogger(__name__)

ATTEMPT_SECONDS = 20.0   # an attempt that sees no usable face for this long counts as not matched


class FaceCheck:
    def __init__(self, pipeline_factory: Callable[[], FacePipeline], camera_url: str,
                 attempt_seconds: float = ATTEMPT_SECONDS, liveness: bool = True):
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="face")
        self._pipeline_factory = pipeline_factory
        self.camera_url = camera_url
        self.attempt_seconds = attempt_seconds
        self.liveness = liveness
        if not liveness:
            log.warning("liveness check is OFF (policy.liveness = false): a printed photo or a screen can pass "
                        "face authentication; use it only with staff watching the counter")
        self.camera: Camera | None = None
        self.verifier: FaceVerifier | None = None
        self.bench_commands: list[str] = []
        self._cancel = False
        self._flash_ack: tuple[str, float] | None = None   # (nonce, time.monotonic()) from kiosk.flash_shown

    @classmethod
    def from_config(cls, config, liveness: bool = True) -> "FaceCheck":
        model = config.face.model or None
        threshold = config.face.threshold or None
        return cls(lambda: FacePipeline(model, threads=1, threshold=threshold), config.devices.camera,
                   liveness=liveness)

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def _load(self) -> FaceVerifier:
        if self.verifier is None:
            self.verifier = FaceVerifier(self._pipeline_factory(), liveness=self.liveness)
        return self.verifier

    def _ready(self) -> FaceVerifier:
        """The verifier an attempt uses: set_reference() loads it."""
        if self.verifier is None:
            raise RuntimeError("set_reference() first")
        return self.verifier

    async def warm_up(self) -> None:
        """Load the models (at start-up, so the first patient does not wait for them)."""
        await self._run(self._load)

    async def set_reference(self, photo) -> None:
        def work():
            self._load().set_reference(to_rgb(photo))
        await self._run(work)

    def _open(self) -> Camera:
        if self.camera is None:
            self.camera = open_camera(self.camera_url)
            for line in self.bench_commands:
                self.camera.control(line)
        return self.camera

    def flash_shown(self, nonce: str) -> bool:
        """The patient screen says it painted the first colour of this attempt's sequence (now). False when no
        sequence with that nonce is waiting (a stale or stray call: ignored)."""
        verifier = self.verifier
        flash = verifier.flash if verifier is not None else None
        if flash is None or flash.nonce != nonce or self._flash_ack is not None:
            return False
        self._flash_ack = (nonce, time.monotonic())
        return True

    def _frame(self) -> Guidance | Verdict | None:
        camera = self._open()
        verifier = self._ready()
        ack, flash = self._flash_ack, verifier.flash
        if ack is not None and flash is not None and ack[0] == flash.nonce and verifier.live is not None \
                and verifier.live.flash_start is None:
            start = camera.clock(ack[1])
            verifier.flash_shown(start)
            camera.flash(flash.rgb(), flash.step, start, palette())   # the bench lights its scene; real cameras see it
        outcome = verifier.feed(camera.read(), camera.frame_time())
        if isinstance(outcome, Guidance) and outcome.code.startswith("turn_"):
            camera.cue(outcome.code[len("turn_"):])   # a bench person reads the screen; real cameras ignore it
        if isinstance(outcome, Verdict) and verifier.last_decision is not None and \
                verifier.last_decision.flash == "not_shown":
            log.warning("the patient screen did not show the face check's colours: liveness fell back to the turn, "
                        "blink and 3D checks", extra={"EVENT": "flash_not_shown"})
        return outcome

    async def attempt(self) -> AsyncIterator[Callable]:
        """Yields event factories (call with ``now``): guidance, then one verdict."""
        self._cancel = False
        self._flash_ack = None
        verifier = self._ready()
        await self._run(verifier.reset)
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
                best = max(verifier.scores, default=0.0)
                model, threshold = verifier.pipeline.model, verifier.pipeline.threshold
                live = "off" if not self.liveness else (
                    "passed" if verifier.decision is not None and verifier.decision.live else "failed: timeout")
                yield lambda now: m.FaceVerdict(now, False, best, threshold, model, live)
                return
            await asyncio.sleep(0)

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
        if self.verifier is not None:
            await self._run(self.verifier.clear)

    def bench_control(self, line: str) -> str:
        """A bench camera command; applied now if a camera is open, and to every camera opened later."""
        problem = check_command(line)
        if problem:
            return problem
        self.bench_commands.append(line)
        if self.camera is not None:
            self._pool.submit(self.camera.control, line)
        return "ok"
