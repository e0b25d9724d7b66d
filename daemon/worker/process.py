"""ProcessWorker: the native work in a supervised child process (gunicorn's arbiter on a small scale).

The child is started with the 'spawn' method (the service has threads: a forked copy of their locks is unsafe)
and loads its models once. Requests go one at a time over a pipe; a frame is written into a shared-memory slot
the child maps (one copy in RAM, none through the pipe, nothing on disk; the slot's name is unlinked as soon as
the child has it mapped). Every answer has a deadline: a child that dies (SIGSEGV, abort, SIGKILL) or does not
answer in time (it is then killed) ends the request with WorkerFault, logged in one line, and a new child is
started after a backoff that doubles from 0.5 s to 30 s and starts over once a restarted child has answered.
"""
from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.shared_memory import SharedMemory
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from . import host
from .errors import WorkerCrashed, WorkerFault, WorkerHung, WorkerUnavailable
from .host import FrameRef
from .interface import FeedReply, Spec, fault_problem

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    from ..cardface.reader import ChipHints, FrameRead, ReadResult, RefusedKeys
    from ..face.verifier import Verdict

log = logging.getLogger(__name__)

DEADLINE = 10.0          # seconds for one answer (a frame: ~0.1 s on a PC, under 1 s on a Pi 4)
START_DEADLINE = 120.0   # seconds for a new worker to load its models
BACKOFF = (0.5, 30.0)    # the first restart's delay, and the longest
SLOT = 1 << 20           # the shared-memory slot's first size; it grows to the largest frame seen
# what each request is, for the log line
DOING = {"face_feed": "checking a face frame", "face_reference": "describing the chip photo",
         "face_reset": "starting a face attempt", "face_clear": "forgetting the chip photo",
         "face_give_up": "ending a face attempt", "card_face": "reading the card face", "arm": "arming a fault"}


def how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


class ProcessWorker:
    def __init__(self, spec: Spec, deadline: float = DEADLINE, start_deadline: float = START_DEADLINE):
        self.spec, self.deadline, self.start_deadline = spec, deadline, start_deadline
        self.generation = 0
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()        # one request (or start) at a time
        self._up = threading.Event()         # a worker is ready, or its start failed (then _failure says why)
        self._closed = threading.Event()
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._slot: SharedMemory | None = None
        self._unlink: SharedMemory | None = None    # a grown slot, unlinked once the worker has mapped it
        self._failure: BaseException | None = None
        self._delay = BACKOFF[0]
        self._served = False                 # this worker answered a request: the next fault's backoff starts over
        self._armed: tuple[str, str] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- life cycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker and wait for its models (at start-up: the service is ready only then). A model that
        will not load raises here, as it would in the service's own process."""
        with self._lock:
            if self.generation == 0:
                self._spawn()
                if self._failure is not None:
                    raise self._failure

    def _spawn(self) -> None:
        """A new worker, ready or failed when this returns (under _lock)."""
        self._up.clear()
        slot = SharedMemory(create=True, size=SLOT)
        conn, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=host.main, name="mynareader-worker", daemon=True,
                                 args=(child, self.spec, slot.name, logging.getLogger().getEffectiveLevel()))
        proc.start()
        child.close()
        self._proc, self._conn, self._slot = proc, conn, slot
        self.generation += 1
        self._served = False
        try:
            msg = self._recv(self.start_deadline, "loading its models")
            self._failure = None if msg[0] == "ready" else msg[1]
        except WorkerFault as exc:
            self._failure = WorkerUnavailable(str(exc))
        finally:
            slot.unlink()           # mapped by the worker (or it is gone): no name left in /dev/shm
        if self._failure is not None:
            self._discard()
            if self.generation > 1:  # a restart that failed: try again later (the first start raises instead)
                log.warning("the face and card-face worker could not start: %s", self._failure,
                            extra={"EVENT": "worker_fault"})
                self._restart_later(self._next_delay())
        self._up.set()

    def _discard(self) -> None:
        proc, conn, slot = self._proc, self._conn, self._slot
        self._proc = self._conn = self._slot = None
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
        if conn is not None:
            conn.close()
        for shm in (slot, self._unlink):
            if shm is not None:
                shm.close()
        if self._unlink is not None:
            self._unlink.unlink()
            self._unlink = None

    def _next_delay(self) -> float:
        delay = BACKOFF[0] if self._served else self._delay
        self._delay = min(delay * 2, BACKOFF[1])
        return delay

    def _restart_later(self, delay: float) -> None:
        def restart() -> None:
            if self._closed.wait(delay):
                return
            with self._lock:
                if not self._closed.is_set():
                    self.restarts += 1
                    self._spawn()
        threading.Thread(target=restart, name="worker-restart", daemon=True).start()

    def _fault(self, exc: WorkerFault, doing: str) -> None:
        """The worker died or hung serving a request (under _lock): one log line, a restart after the backoff."""
        self._discard()
        self._up.clear()
        delay = self._next_delay()
        log.warning("%s while %s: that request ends (no try is spent); restarting it in %.1f s", exc, doing, delay,
                    extra={"EVENT": "worker_fault"})
        self._restart_later(delay)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(("stop",))
                except OSError:
                    pass
            if self._proc is not None:
                self._proc.join(5)
            self._discard()

    # -- requests -------------------------------------------------------------------------------------------
    def _recv(self, timeout: float, doing: str) -> tuple:
        conn, proc = self._conn, self._proc
        assert conn is not None and proc is not None
        try:
            if conn.poll(timeout):
                msg = conn.recv()
                if self._unlink is not None:     # any answer comes after the worker read the slot's new name
                    self._unlink.unlink()
                    self._unlink = None
                return msg
        except (EOFError, OSError):
            proc.join(2)
            raise WorkerCrashed(f"the face and card-face worker died ({how_it_ended(proc.exitcode)})") from None
        raise WorkerHung(f"the face and card-face worker did not answer within {timeout:g} s and was stopped")

    def _put(self, frame: np.ndarray) -> FrameRef:
        """Copy ``frame`` into the shared slot (growing it when the frame is larger) for the worker to read."""
        assert self._slot is not None and self._conn is not None
        frame = np.ascontiguousarray(frame)
        if frame.nbytes > self._slot.size:
            grown = SharedMemory(create=True, size=frame.nbytes)
            self._slot.close()
            self._slot = self._unlink = grown    # kept before the send: a broken pipe still unlinks it
            self._conn.send(("slot", grown.name))
        dst: np.ndarray = np.ndarray(frame.shape, frame.dtype, buffer=self._slot.buf)
        dst[...] = frame
        del dst                     # no view may outlive the slot (closing it checks)
        return FrameRef(frame.shape, frame.dtype.str)

    def _request(self, doing: str, converse: Callable[[Connection], tuple]) -> Any:
        """One request on a ready worker: ``converse`` sends it and returns the final answer."""
        deadline = time.monotonic() + self.start_deadline
        while True:
            if not self._up.wait(max(0.0, deadline - time.monotonic())):
                raise WorkerUnavailable("the face and card-face worker is still restarting")
            with self._lock:
                if not self._up.is_set():
                    continue            # a fault or restart came in between: wait again
                if self._failure is not None:
                    raise WorkerUnavailable(f"the face and card-face worker cannot start: {self._failure}")
                if self._proc is not None and not self._proc.is_alive():   # died between requests
                    self._fault(WorkerCrashed(f"the face and card-face worker died "
                                              f"({how_it_ended(self._proc.exitcode)})"), "waiting")
                    continue
                assert self._conn is not None
                try:
                    if self._armed is not None:
                        (stage, fault), self._armed = self._armed, None
                        self._conn.send(("call", "arm", (stage, fault)))
                        self._recv(self.deadline, DOING["arm"])
                    msg = converse(self._conn)
                except WorkerFault as exc:
                    self._fault(exc, doing)
                    raise
                except OSError:         # the pipe broke under a send: the worker is gone
                    proc = self._proc
                    if proc is not None:
                        proc.join(2)
                    crashed = WorkerCrashed(f"the face and card-face worker died "
                                            f"({how_it_ended(proc.exitcode if proc else None)})")
                    self._fault(crashed, doing)
                    raise crashed from None
                self._served = True
            if msg[0] == "raise":
                raise msg[1]
            return msg[1]

    def _call(self, name: str, *args: Any) -> Any:
        def converse(conn: Connection) -> tuple:
            conn.send(("call", name, tuple(self._put(a) if isinstance(a, np.ndarray) else a for a in args)))
            return self._recv(self.deadline, DOING[name])
        return self._request(DOING[name], converse)

    # -- the Worker interface -------------------------------------------------------------------------------
    def face_reset(self) -> None:
        self._call("face_reset")

    def face_reference(self, rgb: np.ndarray) -> None:
        self._call("face_reference", rgb)

    def face_clear(self) -> None:
        self._call("face_clear")

    def face_feed(self, rgb: np.ndarray, t: float, shown: float | None = None) -> FeedReply:
        return self._call("face_feed", rgb, t, shown)

    def face_give_up(self) -> Verdict:
        return self._call("face_give_up")

    def card_face_read(self, frames: Iterator[np.ndarray], hints: ChipHints | None, refused: RefusedKeys,
                       on_frame: Callable[[FrameRead], None]) -> ReadResult:
        doing = DOING["card_face"]
        failed: list[BaseException] = []

        def converse(conn: Connection) -> tuple:
            conn.send(("card_face", hints, refused))
            while True:
                msg = self._recv(self.deadline, doing)
                if msg[0] == "next":
                    frame = None
                    if not failed:
                        try:
                            frame = next(frames, None)
                        except Exception as exc:     # the camera failed: end the read, then say so
                            failed.append(exc)
                    conn.send(("end",) if frame is None else ("frame", self._put(frame)))
                elif msg[0] == "seen":
                    on_frame(msg[1])
                else:
                    return msg
        result = self._request(doing, converse)
        if failed:
            raise failed[0]
        return result

    def arm(self, stage: str, fault: str) -> str:
        problem = fault_problem(self.spec, stage, fault)
        if problem:
            return problem
        self._armed = (stage, fault)     # sent ahead of the next request
        return "ok"
