"""The reader service: devices, the reception flow, the face check and the sockets, on one asyncio loop.

The flow (daemon/reception) decides; this module only carries events in and performs actions out. Card work
runs on the card thread, face work on its own worker; the loop never blocks. Every device fault is reported
(`reader.fault`) and the reader goes back to waiting for the next patient.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import base64
import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from importlib import resources
from typing import Any, Callable

from ..device.camera.bench import check_command
from ..device.card import MyNumberCard, read_card_info
from ..device.errors import CardRemoved, DeviceError, PinBlocked, WrongPin
from ..device.bench_control import serve_control
from ..device.pin import Pin
from ..device.registry import open_reader
from .card_face import CardFaceSource
from .cardface.reader import GUIDANCE, ChipHints
from .card_worker import CardWorker, PresenceWatcher
from .config import Config
from .reception import messages as m
from .reception.consent import load_catalogue
from .reception.errors import InvalidEvent, Rejected
from .reception.machine import Reception
from .reception.states import State
from .rpc import errors as rpc_errors
from .rpc import params
from .rpc.server import BOTH, Limits, Role, RpcServer
from .store import RESULT_KEEP_SECONDS, Store, StoreError

log = logging.getLogger(__name__)

EVENTS = ["session.started", "step.changed", "guidance", "result", "session.ended", "session.aborted",
          "reader.fault", "reader.recovered", "staff.called"]
RECEPTION, KIOSK = frozenset({Role.RECEPTION}), frozenset({Role.KIOSK})


def openrpc_document() -> dict:
    return json.loads(resources.files("mynareader.daemon.rpc").joinpath("openrpc.json").read_text("utf-8"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class ReaderService:
    def __init__(self, config: Config, face=None):
        self.config = config
        self.policy = config.policy
        self.catalogue = load_catalogue(config.consent.catalogue or None)
        self.store_error: str | None = None
        try:
            self.store: Store | None = Store(config.state.directory, config.state.marker_path)
        except StoreError as exc:
            self.store, self.store_error = None, str(exc)
            log.error("state store unavailable: %s", exc, extra={"EVENT": "store_unavailable"})
        self.transport = open_reader(config.devices.reader)
        self.worker = CardWorker(self.transport)
        self.card_face = CardFaceSource(config.devices.cardface, self.transport)
        self.face = face
        self.machine = Reception(self.policy, self.catalogue, self.store,
                                 face_enabled=self.card_face.available and face is not None)
        lim = config.limits
        self.rpc = RpcServer(Limits(max_message=lim.max_message, rate_per_second=lim.rate_per_second,
                                    max_connections=lim.max_connections),
                             capabilities=self._capabilities(), discover=openrpc_document,
                             check_params=params.checker(openrpc_document()))
        self.rpc.events.update(EVENTS)
        self._register_methods()
        self.current: m.Show | None = None
        self.last_result: dict | None = None
        self.reader_fault: str | None = None
        self.card_fault: str | None = None        # a card operation failed; cleared by the next that succeeds
        self.next_mode = "reception"
        self.kiosk_holder = None
        self.session_id: str | None = None
        self._face_task: asyncio.Task | None = None
        self._tasks: list[asyncio.Task] = []
        self._pending: set[asyncio.Task] = set()     # fire-and-forget work, kept referenced until done
        self._presence_lock = asyncio.Lock()
        self._flow = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="flow")
        self.watcher: PresenceWatcher | None = None
        self._bench_server = None
        self.network: Any = None     # the TLS listener (rpc/tls.py) when [network] listen is set

    def _capabilities(self) -> list[str]:
        caps = ["pin", "visual_check", "registration", "consent"]
        if self.card_face.available and self.face is not None:
            caps.append("face")
        return caps

    # -- life cycle ----------------------------------------------------------------------------------
    async def start(self, listen_fds: dict | None = None) -> None:
        loop = asyncio.get_running_loop()
        sockets = self.config.sockets
        fds = listen_fds or {}
        for role, path, group in ((Role.RECEPTION, sockets.reception, sockets.reception_group),
                                  (Role.KIOSK, sockets.kiosk, sockets.kiosk_group)):
            if role.value in fds:
                await self.rpc.listen_socket(fds[role.value], role)   # socket activation: systemd owns mode/group
            else:
                await self.rpc.listen_path(path, role, self.config.socket_mode, group or None)
        await self._start_network()
        if self.face is not None:
            await self.face.warm_up()   # READY only once the models are loaded
            try:
                await loop.run_in_executor(None, self.card_face.warm_up)
            except Exception as exc:    # reported again at each read; the PIN still works
                log.warning("card-face reader unavailable: %s", exc)
        if self.config.bench.control:
            self._bench_server = serve_control(self.config.bench.control, self._bench_command)
        self.watcher = PresenceWatcher(self.transport, loop, self._on_presence)
        self.watcher.start()
        self._tasks.append(asyncio.create_task(self._ticker()))
        log.info("reader service started", extra={"EVENT": "started"})

    async def _start_network(self) -> None:
        """The TLS listener when [network] listen is set. A problem with its files is logged and the reader keeps
        serving its Unix sockets: the patient at the kiosk must not lose the reader over a certificate."""
        net = self.config.network
        if not net.listen:
            return
        from .rpc.tls import TlsFiles, TlsListener, TlsUnavailable, parse_listen
        host, port = parse_listen(net.listen)
        self.network = TlsListener(self.rpc, TlsFiles(net.ca, net.cert, net.key, net.crl, net.min_tls,
                                                      net.handshake_timeout))
        try:
            await self.network.start(host, port)
        except TlsUnavailable as exc:
            self.network = None
            log.error("the network transport is off: %s", exc, extra={"EVENT": "network_unavailable"})
        except OSError as exc:
            self.network = None
            log.error("the network transport is off: cannot listen on %s: %s", net.listen, exc.strerror or exc,
                      extra={"EVENT": "network_unavailable"})

    def _bench_command(self, line: str) -> str:
        """Bench control: camera verbs go to the face check, card verbs to the in-process slot (sim://)."""
        if line.split()[:1] == ["cardface"]:
            return self.card_face.control(line)
        if check_command(line) is None:
            if self.face is None:
                return "error face authentication is off on this reader"
            return self.face.bench_control(line)
        slot = getattr(self.transport, "slot", None)
        if slot is None:
            return "error card commands need a sim:// reader; steer a vpcd or PN532 mock through its own socket"
        return slot.control(line)

    async def stop(self) -> None:
        if self._bench_server is not None:
            self._bench_server.shutdown()
        for task in self._tasks:
            task.cancel()
        await self._stop_face()
        if self.watcher:
            await asyncio.get_running_loop().run_in_executor(None, self.watcher.stop)
        await self.rpc.close()
        await asyncio.get_running_loop().run_in_executor(None, self.worker.close)
        self.card_face.close()
        self._flow.shutdown(wait=True)
        if self.store:
            self.store.close()

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
                await self._feed_quietly(m.Tick(_now()))

    # -- presence -------------------------------------------------------------------------------------
    def _on_presence(self, kind: str, detail: str | None) -> None:
        self._spawn(self._presence(kind, detail))

    async def _presence(self, kind: str, detail: str | None) -> None:
        """One presence change at a time, in order: a swap's removal must end the old session (with its id)
        before the new card's session begins (asyncio.Lock wakes waiters first come, first served)."""
        async with self._presence_lock:
            await self._presence_change(kind, detail)

    async def _presence_change(self, kind: str, detail: str | None) -> None:
        if kind == "present":
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
                await self.feed(m.CardPlaced(_now(), self.session_id, secrets.token_bytes(32), registration))
            except Rejected:
                self.session_id = previous
                return
            self.next_mode = "reception"
        elif kind == "removed":
            await self._feed_quietly(m.CardRemoved(_now()))
        elif kind == "fault":
            self.reader_fault = detail
            self.rpc.broadcast("reader.fault", {"message": detail})
            log.warning("reader fault: %s", detail, extra={"EVENT": "reader_fault"})
        elif kind == "recovered":
            self.reader_fault = None
            self.rpc.broadcast("reader.recovered", {})

    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # -- the machine ------------------------------------------------------------------------------------
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

    async def _feed_quietly(self, event: m.Event) -> None:
        """Device results may arrive after the session moved on (removed, cancelled): then they are dropped."""
        try:
            await self.feed(event)
        except Rejected:
            log.debug("dropped %s in state %s", type(event).__name__, self.machine.state)

    def _perform(self, action: m.Action) -> None:
        if isinstance(action, m.Show):
            self.current = action
            params = {"session_id": self.session_id, **self._show_json(action)}
            if action.message == "face_guidance":
                self.rpc.broadcast("guidance", params)
            else:
                self.rpc.broadcast("step.changed", params)
        elif isinstance(action, m.EmitResult):
            self.last_result = action.result
            if self.store is not None:        # kept briefly for a client that misses it (store.RESULT_KEEP_SECONDS)
                self._spawn(self._keep_result(action.result))
            self.rpc.broadcast("result", action.result, RECEPTION)
            log.info("result emitted", extra={"EVENT": "result", "SESSION_ID": self.session_id,
                                              "METHOD": action.result["identity"]["method"]})
        elif isinstance(action, m.EndSession):
            if self.face is not None:   # the chip photo's descriptor lives for one session only
                self._spawn(self.face.end_session())
            name = "session.ended" if action.outcome == "completed" else "session.aborted"
            self.rpc.broadcast(name, {"session_id": self.session_id, "outcome": action.outcome,
                                      "reason": action.reason})
            log.info("session %s: %s", action.outcome, action.reason,
                     extra={"EVENT": "session_end", "SESSION_ID": self.session_id, "OUTCOME": action.outcome})
        elif isinstance(action, (m.StartFaceCheck, m.StopFaceCheck)):
            self._spawn(self._face_action(action))
        else:
            self._spawn(self._card_action(action))

    @staticmethod
    def _show_json(show: m.Show) -> dict:
        return {"step": show.step, "message": show.message, "ja": show.ja, "en": show.en,
                "options": list(show.options), "data": show.data}

    async def _card_action(self, action: m.Action) -> None:
        session, removed = self.session_id, False
        try:
            event = await self._card_operation(action)
        except CardRemoved:
            # the card left mid-operation, or another PC/SC program reset it: end the session now rather than
            # wait for the presence watcher
            event = m.CardRemoved(_now())
            removed = True
        except (DeviceError, InvalidEvent) as exc:   # InvalidEvent: the card answered out of range (tries > max)
            log.warning("card fault during %s: %s", type(action).__name__, exc, extra={"EVENT": "card_fault"})
            event = m.CardFailed(_now(), str(exc))
            self.card_fault = str(exc)
            self.rpc.broadcast("reader.fault", {"message": str(exc)})
        else:
            if self.card_fault is not None:     # every reader.fault is followed by a reader.recovered
                self.card_fault = None
                self.rpc.broadcast("reader.recovered", {})
        finally:
            for secret in ("pin", "code"):
                pin = getattr(action, secret, None)
                if pin is not None:
                    pin.wipe()
        if event is not None and session == self.session_id:
            await self._feed_quietly(event)
            if removed and self.watcher is not None and await asyncio.get_running_loop().run_in_executor(
                    None, self.watcher.watcher.card_present):
                # still on the reader: it was reset, not taken. The watcher saw no change, so this card would sit
                # there unserved; treat it as placed again
                log.info("the card was reset while on the reader: a new session", extra={"EVENT": "card_reset"})
                self._on_presence("present", None)

    async def _card_operation(self, action: m.Action) -> m.Event | None:
        run = self.worker.run
        if isinstance(action, m.ReadCard):
            def read(card: MyNumberCard):
                card.connect()
                info = read_card_info(card)
                return m.CardRead(_now(), info.token.value, info.certificate, info.pin_tries, info.code_b_tries)
            return await run(read)
        if isinstance(action, m.RequestCodeB):
            loop = asyncio.get_running_loop()
            hints, session = self._chip_hints(), self.session_id

            def guide(reason: str) -> None:   # from the reading thread: tell the patient what to change
                loop.call_soon_threadsafe(self._card_face_guidance, session, reason)
            try:
                code, certain = await loop.run_in_executor(None, self.card_face.read, hints, guide)
            except Exception as exc:
                log.warning("card-face source failed: %s", exc)
                code, certain = None, False
            return m.CodeBRead(_now(), code, certain)
        if isinstance(action, m.VerifyCodeB):
            event = await self._verify(lambda card: card.verify_code_b(action.code),
                                       m.CodeBAccepted, m.CodeBRejected)
            if isinstance(event, m.CodeBRejected):   # this code is never sent to this card again
                self.card_face.record_refused(action.code, self._chip_hints())
            return event
        if isinstance(action, m.ReadFacePhoto):
            face = await run(lambda card: card.read_card_face())
            if self.face is None:
                return m.FaceUnavailable(_now(), "no face models are loaded")
            try:
                await self.face.set_reference(face.photo())
            except Exception:    # the why goes to the log; the patient and staff hear only that face is off
                log.warning("the chip photo could not be used", exc_info=True, extra={"EVENT": "face_unavailable"})
                return m.FaceUnavailable(_now(), "the card's photo could not be used")
            return m.FacePhotoRead(_now())
        if isinstance(action, m.QueryPinTries):
            return m.PinTries(_now(), await run(lambda card: card.pin_tries()))
        if isinstance(action, m.VerifyPin):
            return await self._verify(lambda card: card.verify_pin(action.pin), m.PinAccepted, m.PinRejected)
        if isinstance(action, m.SignChallenge):
            digest = hashlib.sha256(action.nonce).digest()
            return m.Signed(_now(), await run(lambda card: card.sign_digest(digest)))
        raise AssertionError(f"unhandled action {action!r}")

    def _chip_hints(self) -> ChipHints | None:
        """What the chip showed before any VERIFY, to cross-check the printed card face."""
        cert = self.machine.certificate
        return ChipHints(cert.serial, cert.not_after) if cert is not None else None

    def _card_face_guidance(self, session: str | None, reason: str) -> None:
        if session != self.session_id or self.machine.state != State.CODE_B_READ:
            return
        ja, en = GUIDANCE.get(reason, GUIDANCE["fields_unreadable"])
        self.rpc.broadcast("guidance", {"session_id": session, "step": State.CODE_B_READ,
                                        "message": "card_face_guidance", "ja": ja, "en": en, "options": [],
                                        "data": {"code": reason}})

    async def _verify(self, operation, accepted, rejected) -> m.Event:
        """One VERIFY on the card thread, as the flow's accepted or rejected event (0 tries left: blocked)."""
        try:
            await self.worker.run(operation)
        except WrongPin as exc:
            return rejected(_now(), exc.tries_left)
        except PinBlocked:
            return rejected(_now(), 0)
        return accepted(_now())

    # -- face ------------------------------------------------------------------------------------------
    async def _face_action(self, action) -> None:
        if isinstance(action, m.StopFaceCheck):
            await self._stop_face()
            return
        await self._stop_face()
        if self.face is None:
            await self._feed_quietly(m.FaceUnavailable(_now(), "no face models are loaded"))
            return
        self._face_task = asyncio.get_running_loop().create_task(self._face_attempt(self.session_id))

    async def _face_attempt(self, session: str | None) -> None:
        try:
            async for outcome in self.face.attempt():
                if session != self.session_id:
                    return
                await self._feed_quietly(outcome(_now()))
                if self.machine.state != State.FACE_MATCHING:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("face check failed", exc_info=True, extra={"EVENT": "face_unavailable"})
            await self._feed_quietly(m.FaceUnavailable(_now(), "the face check failed"))

    async def _stop_face(self) -> None:
        task, self._face_task = self._face_task, None
        if task and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self.face is not None:
            await self.face.stop()

    # -- protocol methods ---------------------------------------------------------------------------------
    def _register_methods(self) -> None:
        add = self.rpc.add
        add("status", self._status, BOTH)
        add("mode.set", self._mode_set, BOTH)
        add("session.cancel", self._cancel, RECEPTION)
        add("session.request_visual", self._request_visual, RECEPTION)
        add("session.confirm_visual", self._confirm_visual, RECEPTION)
        add("session.set_challenge", self._set_challenge, RECEPTION)
        add("session.lift_face_lock", self._lift_face_lock, RECEPTION)
        add("result.last", self._result_last, RECEPTION)
        add("result.get", self._result_get, RECEPTION)
        add("kiosk.release", self._release_kiosk, RECEPTION)
        add("kiosk.current", self._kiosk_current, KIOSK)
        add("kiosk.choose_method", self._choose_method, KIOSK)
        add("kiosk.submit_pin", self._submit_pin, KIOSK)
        add("kiosk.answer", self._answer, KIOSK)
        add("kiosk.cancel", self._kiosk_cancel, KIOSK)
        add("kiosk.still_here", self._still_here, KIOSK)
        add("kiosk.call_staff", self._call_staff, KIOSK)

    async def _input(self, make: Callable[[], m.Event]) -> dict:
        """A client's input: ``make`` builds its event once there is a session. An event that cannot be valid
        (messages.py refuses it when built) is answered like one the flow refuses: WrongStep."""
        if self.machine.state == State.IDLE:
            raise rpc_errors.NoSession()
        try:
            await self.feed(make())
        except (Rejected, InvalidEvent) as exc:
            raise rpc_errors.WrongStep(str(exc), state=self.machine.state) from None
        return {"state": self.machine.state}

    async def _kiosk_input(self, conn, make: Callable[[], m.Event]) -> dict:
        """Only one kiosk client drives the patient screen. It claims the screen with its first input the flow
        accepts (a refused input claims nothing), and the claim ends with its connection or when staff release it."""
        if self.kiosk_holder is not None and self.kiosk_holder is not conn:
            raise rpc_errors.Busy()
        reply = await self._input(make)
        if self.kiosk_holder is None:
            self.kiosk_holder = conn

            def release() -> None:
                if self.kiosk_holder is conn:
                    self.kiosk_holder = None
            conn.on_close.append(release)
        return reply

    async def _release_kiosk(self, conn, params) -> dict:
        """Staff free the patient screen from a kiosk client that holds it but no longer drives it."""
        held = self.kiosk_holder
        self.kiosk_holder = None
        if held is not None:
            log.warning("staff released the patient screen held by kiosk client %d", held.id,
                        extra={"EVENT": "kiosk_released"})
        return {"released": held.id if held is not None else None}

    def _holder_json(self) -> dict | None:
        held = self.kiosk_holder
        if held is None:
            return None
        return {"client": held.id, "pid": held.peer.pid if held.peer else None}

    async def _status(self, conn, params) -> dict:
        active = self.machine.state != State.IDLE
        return {"state": self.machine.state, "session_id": self.session_id if active else None,
                "status": self.status_line(), "reader": {"url": self.transport.url, "fault": self.reader_fault},
                "store": self._store_json(),
                "kiosk_holder": self._holder_json(),
                "next_mode": self.next_mode, "capabilities": self._capabilities(),
                "step": self._show_json(self.current) if self.current and active else None}

    def _store_json(self) -> dict:
        failure = self.store_error or (self.store.failure if self.store is not None else None)
        return {"ok": failure is None, "error": failure}

    async def _mode_set(self, conn, params) -> dict:
        mode = params["mode"]          # checked against the OpenRPC document's enum (rpc/params.py)
        self.next_mode = mode
        return {"next_mode": mode}

    async def _cancel(self, conn, params) -> dict:
        return await self._input(lambda: m.Cancelled(_now(), "staff"))

    async def _kiosk_cancel(self, conn, params) -> dict:
        return await self._kiosk_input(conn, lambda: m.Cancelled(_now(), "patient"))

    async def _request_visual(self, conn, params) -> dict:
        return await self._input(lambda: m.VisualCheckRequested(_now()))

    async def _confirm_visual(self, conn, params) -> dict:
        return await self._input(lambda: m.VisualConfirmed(_now(), params["staff"]))

    async def _lift_face_lock(self, conn, params) -> dict:
        return await self._input(lambda: m.FaceLockLifted(_now(), params["staff"]))

    async def _set_challenge(self, conn, params) -> dict:
        try:
            nonce = base64.b64decode(params["nonce"], validate=True)
        except (ValueError, TypeError):
            nonce = b""
        try:                                  # the length is ChallengeSet's to check (messages.NONCE_BYTES)
            event = m.ChallengeSet(_now(), nonce)
        except InvalidEvent:
            raise rpc_errors.InvalidParams("nonce: base64 of 16-64 random bytes") from None
        return await self._input(lambda: event)

    async def _keep_result(self, result: dict) -> None:
        if self.store is None:      # no store since start: status says so; result.last still has it
            return
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._flow, self.store.keep_result, result["session_id"], result, time.time())
        except StoreError as exc:    # the result still went out and result.last has it until a restart
            log.warning("the result could not be kept for later: %s", exc, extra={"EVENT": "result_not_kept"})

    async def _kept(self, session: str | None) -> dict | None:
        if self.store is None:
            return None
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._flow, self.store.kept_result, session, time.time())
        except StoreError:
            return None

    async def _result_last(self, conn, params) -> dict:
        result = self.last_result or await self._kept(None)      # after a restart: the store's, if recent
        if result is None:
            raise rpc_errors.NoResult()
        return result

    async def _result_get(self, conn, params) -> dict:
        session = params["session_id"]
        if self.last_result is not None and self.last_result.get("session_id") == session:
            return self.last_result
        result = await self._kept(session)
        if result is None:
            raise rpc_errors.NoResult(f"no result is kept for session {session} (results are kept for "
                                      f"{RESULT_KEEP_SECONDS // 60} minutes)")
        return result

    async def _kiosk_current(self, conn, params) -> dict:
        if self.machine.state == State.IDLE or self.current is None:
            return {"state": State.IDLE, "step": None, "timeout": None}
        return {"state": self.machine.state, "step": self._show_json(self.current), "timeout": self._timeout_json()}

    def _timeout_json(self) -> dict | None:
        """The idle timeout, for the patient screen's countdown: seconds left when asked (the screen counts down
        from there and asks again at each event), and the full length."""
        deadline = self.machine.idle_deadline()
        if deadline is None:
            return None
        left = max(0.0, (deadline - _now()).total_seconds())
        return {"seconds_left": round(left, 1), "idle_timeout": self.policy.idle_timeout_seconds}

    async def _still_here(self, conn, params) -> dict:
        reply = await self._kiosk_input(conn, lambda: m.StillHere(_now()))
        return {**reply, "timeout": self._timeout_json()}

    async def _call_staff(self, conn, params) -> dict:
        """The patient asks for help from any screen (with or without a card): reception hears it. It claims
        nothing and changes no step; staff come over and, if needed, use session.request_visual."""
        active = self.machine.state != State.IDLE
        event = {"session_id": self.session_id if active else None, "state": self.machine.state,
                 "reason": params.get("reason", "help"), "at": _now().isoformat()}
        self.rpc.broadcast("staff.called", event, RECEPTION)
        log.info("the patient called staff (%s) in %s", event["reason"], event["state"],
                 extra={"EVENT": "staff_called", "SESSION_ID": event["session_id"]})
        return {"called": True, "state": self.machine.state}

    async def _choose_method(self, conn, params) -> dict:
        return await self._kiosk_input(conn, lambda: m.MethodChosen(_now(), params["method"]))

    async def _submit_pin(self, conn, params) -> dict:
        raw = params.get("pin")
        try:
            pin = Pin(raw if isinstance(raw, str) else "")
        except ValueError:
            raise rpc_errors.InvalidParams("pin: exactly 4 digits") from None
        finally:
            params.pop("pin", None)
        try:
            confirm = bool(params.get("confirm_last_try"))
            return await self._kiosk_input(conn, lambda: m.PinEntered(_now(), pin, confirm))
        except Exception:
            pin.wipe()
            raise

    async def _answer(self, conn, params) -> dict:
        return await self._kiosk_input(conn, lambda: m.ConsentAnswered(_now(), params["screen"], params["answer"]))
