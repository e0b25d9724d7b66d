"""The reader service: carries events into the reception flow and performs the actions it asks for.

The flow (daemon/reception) decides; this core only feeds it (presence, the clock's ticks, device results,
clients' inputs through service/protocol.py) and hands its actions to the parts that do them: card actions
(service/cards.py), face attempts (service/faces.py), results (service/results.py) and events to clients. It
takes every part ready-made (daemon/app/compose.py builds them from the configuration), so a test can hand it
fakes. The loop never blocks: card work runs on the card thread, face work on the face thread, the flow (it
reads the store) on the flow thread. Every device fault is reported (``reader.fault``) and the reader goes back
to waiting for the next patient.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, Coroutine, Sequence

from ...device.bench_control import serve_control
from ...device.transport import Transport
from ..cardface.reader import GUIDANCE, ChipHints
from ..clock import now
from ..reception import messages as m
from ..reception.errors import Rejected
from ..reception.machine import Reception
from ..reception.states import State
from ..rpc.server import RpcServer
from ..store import Store
from .bench import bench_command
from .card_face import CardFaceSource
from .card_worker import CardWorker, PresenceWatcher
from .cards import CardActions
from .claim import KioskClaim
from .faces import FaceAttempts
from .listeners import Network, UnixSocket, listen
from .metrics import Metrics, publish, release
from .protocol import RECEPTION, show_json
from .results import Results

if TYPE_CHECKING:
    from ..rpc.tls import TlsListener
    from ..worker.interface import Worker
    from .face_check import FaceCheck

log = logging.getLogger(__name__)


class ReaderService:
    def __init__(self, *, flow: Reception, rpc: RpcServer, reader: Transport, worker: CardWorker,
                 card_face: CardFaceSource, face: FaceCheck | None, store: Store | None, store_error: str | None,
                 flow_thread: concurrent.futures.Executor, sockets: Sequence[UnixSocket] = (),
                 network: Network | None = None, bench_control: str = "", native: Worker | None = None,
                 metrics: Metrics | None = None, metrics_file: tuple[str, float] = ("", 15.0)):
        """``native``: the worker process doing the face and OCR work (the face check starts it; stopped here)."""
        self.machine, self.rpc, self.transport, self.worker = flow, rpc, reader, worker
        self.card_face, self.face, self.store, self.store_error = card_face, face, store, store_error
        self._flow, self._sockets, self._network, self._bench_path = flow_thread, sockets, network, bench_control
        self.native = native
        self.network: TlsListener | None = None   # the TLS listener once it listens
        self.metrics, self._metrics_file = metrics or Metrics(release(), "none"), metrics_file
        rpc.observers.append(self.metrics.event)
        self.cards = CardActions(worker, card_face, face, rpc.broadcast)
        self.faces = FaceAttempts(face, self.feed_quietly, lambda: self.session_id,
                                  lambda: self.machine.state == State.FACE_MATCHING, self.metrics.timed)
        self.results = Results(store, flow_thread)
        self.claim = KioskClaim()
        self.current: m.Show | None = None
        self.reader_fault: str | None = None
        self.next_mode = "reception"
        self.session_id: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._pending: set[asyncio.Task] = set()     # fire-and-forget work, kept referenced until done
        self._presence_lock = asyncio.Lock()
        self.watcher: PresenceWatcher | None = None
        self._bench_server: Any = None

    # -- life cycle ----------------------------------------------------------------------------------
    async def start(self, listen_fds: dict | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.network = await listen(self.rpc, self._sockets, self._network, listen_fds or {})
        if self.face is not None:
            await self.face.warm_up()   # READY only once the models are loaded
            try:
                await loop.run_in_executor(None, self.card_face.warm_up)
            except Exception as exc:    # reported again at each read; the PIN still works
                log.warning("card-face reader unavailable: %s", exc)
        if self._bench_path:
            self._bench_server = serve_control(self._bench_path, lambda line: bench_command(
                line, self.transport, self.card_face, self.face, self.native))
        self.watcher = PresenceWatcher(self.transport, loop, self._on_presence)
        self.watcher.start()
        self._tasks.append(asyncio.create_task(self._ticker()))
        path, interval = self._metrics_file      # node-exporter's textfile, and how often it is rewritten
        if path:
            self._tasks.append(asyncio.create_task(publish(self.metrics, path, interval, self.store_ok)))
        log.info("reader service started", extra={"EVENT": "started"})

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._bench_server is not None:
            self._bench_server.shutdown()
        for task in self._tasks:
            task.cancel()
        if self.network is not None:
            self.network.stop_watching()
        await self.faces.stop()
        if self.watcher:
            await loop.run_in_executor(None, self.watcher.stop)
        await self.rpc.close()
        await loop.run_in_executor(None, self.worker.close)
        self.card_face.close()
        if self.native is not None:
            await loop.run_in_executor(None, self.native.close)
        self._flow.shutdown(wait=True)
        if self.store:
            self.store.close()

    def store_ok(self) -> bool:
        return self.store is not None and self.store_error is None and not self.store.failure

    def status_line(self) -> str:
        if self.store_error:
            return "Identity checks paused: the state store cannot be read"
        if self.store is not None and self.store.failure:
            return "State store failing: sessions end until it answers again"
        if self.reader_fault:
            return f"Reader fault: {self.reader_fault}"
        if self.machine.state == State.IDLE:
            return "Waiting for a card"
        return f"Session {self.session_id}: {self.machine.state}"

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.machine.state != State.IDLE:
                await self.feed_quietly(m.Tick(now()))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- presence -------------------------------------------------------------------------------------
    def _on_presence(self, kind: str, detail: str | None) -> None:
        self._spawn(self._presence(kind, detail))

    async def _presence(self, kind: str, detail: str | None) -> None:
        """One presence change at a time, in order: a swap's removal must end the old session (with its id)
        before the new card's session begins (asyncio.Lock wakes waiters first come, first served)."""
        async with self._presence_lock:
            if kind == "present":
                await self._card_placed()
            elif kind == "removed":
                await self.feed_quietly(m.CardRemoved(now()))
                self.cards.card_left()
            elif kind == "fault":
                self.reader_fault = detail
                self.rpc.broadcast("reader.fault", {"message": detail})
                log.warning("reader fault: %s", detail, extra={"EVENT": "reader_fault"})
            elif kind == "recovered":
                self.reader_fault = None
                self.rpc.broadcast("reader.recovered", {})

    async def _card_placed(self) -> None:
        if self.machine.state != State.IDLE:
            # a second report of the card already being served (a reset seen by both the card thread and the
            # watcher): one session per placement, and the running one keeps its id
            log.debug("card present while %s: already served", self.machine.state)
            return
        previous, self.session_id = self.session_id, secrets.token_hex(8)
        registration = self.next_mode == "registration"
        self.rpc.broadcast("session.started", {"session_id": self.session_id,
                                               "mode": "registration" if registration else "reception"})
        try:
            await self.feed(m.CardPlaced(now(), self.session_id, secrets.token_bytes(32), registration))
        except Rejected:
            self.session_id = previous
            return
        self.next_mode = "reception"

    # -- the flow ---------------------------------------------------------------------------------------
    async def feed(self, event: m.Event) -> None:
        """Give the flow one event and perform what it asks. Inputs it refuses raise Rejected.

        The flow consults the store, and SQLite can wait on another process's lock or a stalled SD card: so the
        flow runs on its own thread (one, so events keep their order) and the event loop keeps answering."""
        actions = await asyncio.get_running_loop().run_in_executor(self._flow, self.machine.handle, event)
        for action in actions:
            try:
                self._perform(action)
            except Exception:   # one action's failure must not skip the next (a result, an end, a forget)
                log.exception("performing %s failed", type(action).__name__, extra={"EVENT": "action_failed"})

    async def feed_quietly(self, event: m.Event) -> None:
        """Device results may arrive after the session moved on (removed, cancelled): then they are dropped."""
        try:
            await self.feed(event)
        except Rejected:
            log.debug("dropped %s in state %s", type(event).__name__, self.machine.state)

    def _perform(self, action: m.Action) -> None:
        if isinstance(action, m.Show):
            self.current = action
            event = "guidance" if action.message == "face_guidance" else "step.changed"
            self.rpc.broadcast(event, {"session_id": self.session_id, **show_json(action)})
        elif isinstance(action, m.EmitResult):
            self._spawn(self.results.record(action.result))   # kept briefly (store.RESULT_KEEP_SECONDS)
            self.rpc.broadcast("result", action.result, RECEPTION)
            log.info("result emitted", extra={"EVENT": "result", "SESSION_ID": self.session_id,
                                              "METHOD": action.result["identity"]["method"]})
        elif isinstance(action, m.EndSession):
            self._spawn(self.faces.end_session())
            name = "session.ended" if action.outcome == "completed" else "session.aborted"
            self.rpc.broadcast(name, {"session_id": self.session_id, "outcome": action.outcome,
                                      "reason": action.reason})
            log.info("session %s: %s", action.outcome, action.reason,
                     extra={"EVENT": "session_end", "SESSION_ID": self.session_id, "OUTCOME": action.outcome})
        elif isinstance(action, (m.StartFaceCheck, m.StopFaceCheck)):
            self._spawn(self.faces.perform(action, self.session_id))
        else:
            self._spawn(self._card_action(action))

    async def _card_action(self, action: m.Action) -> None:
        session, loop = self.session_id, asyncio.get_running_loop()

        def guide(reason: str) -> None:   # from the reading thread: tell the patient what to change
            loop.call_soon_threadsafe(self._card_face_guidance, session, reason)
        started = time.monotonic()
        event, removed = await self.cards.answer(action, self._chip_hints(), guide)
        self.metrics.timed(type(action).__name__, time.monotonic() - started)
        if session != self.session_id:
            return
        await self.feed_quietly(event)
        if removed and self.watcher is not None and await loop.run_in_executor(
                None, self.watcher.watcher.card_present):
            # still on the reader: it was reset, not taken. The watcher saw no change, so this card would sit
            # there unserved; treat it as placed again
            log.info("the card was reset while on the reader: a new session", extra={"EVENT": "card_reset"})
            self._on_presence("present", None)

    def _chip_hints(self) -> ChipHints | None:
        cert = self.machine.certificate   # what the chip showed before any VERIFY: cross-checks the card face
        return ChipHints(cert.serial, cert.not_after) if cert is not None else None

    def _card_face_guidance(self, session: str | None, reason: str) -> None:
        if session != self.session_id or self.machine.state != State.CODE_B_READ:
            return
        ja, en = GUIDANCE.get(reason, GUIDANCE["fields_unreadable"])
        self.rpc.broadcast("guidance", {"session_id": session, "step": State.CODE_B_READ,
                                        "message": "card_face_guidance", "ja": ja, "en": en, "options": [],
                                        "data": {"code": reason}})
