"""The worker process's loop (started by process.py with the 'spawn' method): load the models once, then answer
one request at a time from the pipe. Frames arrive in a shared-memory slot the parent wrote them into (no copy
through the pipe, nothing on disk); the pipe carries only small messages.

Messages in:  ("call", name, args) | ("card_face", hints, refused) | ("slot", name) | ("frame", FrameRef) | ("end",) |
              ("stop",)
Messages out: ("ready", None) | ("failed", exception) | ("ok", result) | ("raise", exception) | ("next",) |
              ("seen", FrameRead)
"""
from __future__ import annotations

import dataclasses
import logging
import pickle
import signal
from multiprocessing.connection import Connection
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Iterator

import numpy as np

from .engine import Engine
from .errors import WorkerError
from .interface import Spec


@dataclasses.dataclass(frozen=True)
class FrameRef:
    """A frame in the shared-memory slot: its shape and dtype (it starts at the slot's first byte)."""
    shape: tuple[int, ...]
    dtype: str


def portable(exc: BaseException) -> BaseException:
    """The exception itself when it survives pickling, else a WorkerError that names it."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return WorkerError(f"{type(exc).__name__}: {exc}")


class Host:
    def __init__(self, conn: Connection, slot: str):
        self.conn = conn
        self.slot = SharedMemory(slot)

    def view(self, ref: FrameRef) -> np.ndarray:
        frame: np.ndarray = np.ndarray(ref.shape, np.dtype(ref.dtype), buffer=self.slot.buf)
        frame.flags.writeable = False   # the parent's frame: read, never changed
        return frame

    def resolve(self, arg: Any) -> Any:
        return self.view(arg) if isinstance(arg, FrameRef) else arg

    def attach(self, name: str) -> None:
        self.slot.close()
        self.slot = SharedMemory(name)

    def frames(self) -> Iterator[np.ndarray]:
        """The card-face camera's frames, asked of the parent one at a time."""
        while True:
            self.conn.send(("next",))
            msg = self.conn.recv()
            while msg[0] == "slot":
                self.attach(msg[1])
                msg = self.conn.recv()
            if msg[0] != "frame":
                return
            yield self.view(msg[1])

    def serve(self, engine: Engine) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                return                  # the service closed the pipe (or died): nothing left to serve
            kind = msg[0]
            if kind == "slot":
                self.attach(msg[1])
                continue
            if kind == "stop":
                return
            try:
                if kind == "call" and msg[1] in Engine.CALLS:
                    result = getattr(engine, msg[1])(*(self.resolve(a) for a in msg[2]))
                elif kind == "card_face":
                    result = engine.card_face_read(self.frames(), msg[1], msg[2],
                                                   lambda fr: self.conn.send(("seen", fr)))
                else:
                    raise WorkerError(f"unknown request {kind!r} {msg[1] if len(msg) > 1 else ''}")
            except Exception as exc:
                self.conn.send(("raise", portable(exc)))
            else:
                self.conn.send(("ok", result))


def main(conn: Connection, spec: Spec, slot: str, level: int) -> None:
    """The worker process: the service's pipe, what to load, the shared-memory slot's name, the log level."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # a terminal's Ctrl-C is for the service, which stops us
    logging.basicConfig(level=level, format="%(levelname)s %(name)s (worker): %(message)s")
    host = Host(conn, slot)
    try:
        engine = Engine(spec)
    except Exception as exc:
        conn.send(("failed", portable(exc)))
        return
    conn.send(("ready", None))
    try:
        host.serve(engine)
    finally:
        host.slot.close()
