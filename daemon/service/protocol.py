"""The protocol surface as one table: each method, the socket role that may call it, its handler, and the flow
event it feeds (or none: a query answered from the service's state). Read it beside rpc/openrpc.json, which
holds each method's parameters and result; the parameters are checked against that document before a handler
runs (rpc/params.py).

The server's role checks, ``hello.methods``, the patient page's allow-list (kiosk_web/bridge.py) and the method
lists in docs/protocol.md all come from ``ROUTES``; tests/test_protocol_table.py keeps the table, the OpenRPC
document and the docs equal. A new method is one row here plus its entry in openrpc.json: a method that is one
flow event is a ``feeds(...)`` row; anything else names a handler of a few lines below.

This module is also the boundary where the flow's refusals become protocol errors (``take``).
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import logging
from importlib import resources
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from ...device.pin import Pin
from ..clock import now
from ..reception import messages as m
from ..reception.errors import InvalidEvent, Rejected
from ..reception.states import State
from ..rpc import errors as rpc_errors
from ..rpc.server import BOTH, Connection, Role, RpcServer
from ..store import RESULT_KEEP_SECONDS

if TYPE_CHECKING:
    from .core import ReaderService

log = logging.getLogger(__name__)

RECEPTION, KIOSK = frozenset({Role.RECEPTION}), frozenset({Role.KIOSK})

# the events a client may subscribe to (openrpc.json "x-events" documents each)
NOTIFICATIONS = ("session.started", "step.changed", "guidance", "result", "session.ended", "session.aborted",
                 "reader.fault", "reader.recovered", "staff.called")

Handler = Callable[["ReaderService", Connection, dict], Awaitable[Any]]


@dataclasses.dataclass(frozen=True)
class Route:
    method: str
    roles: frozenset[Role]
    handler: Handler
    feeds: type[m.Event] | None = None      # the flow event it feeds; None: a query


def openrpc_document() -> dict:
    return json.loads(resources.files("mynareader.daemon.rpc").joinpath("openrpc.json").read_text("utf-8"))


# -- the one path from a client's input into the flow -----------------------------------------------------------
async def take(svc: ReaderService, conn: Connection, make: Callable[[dt.datetime], m.Event]) -> dict:
    """A client's input: ``make(now)`` builds its event once there is a session. An event that cannot be valid
    (messages.py refuses it when built) is answered like one the flow refuses: WrongStep. A kiosk client's first
    accepted input claims the patient screen (service/claim.py)."""
    kiosk = conn.role is Role.KIOSK
    if kiosk:
        svc.claim.check(conn)
    if svc.machine.state == State.IDLE:
        raise rpc_errors.NoSession()
    try:
        await svc.feed(make(now()))
    except (Rejected, InvalidEvent) as exc:
        raise rpc_errors.WrongStep(str(exc), state=svc.machine.state) from None
    if kiosk:
        svc.claim.take(conn)
    return {"state": svc.machine.state}


def feeds(method: str, roles: frozenset[Role], event: type[m.Event], *params: str, **fixed: Any) -> Route:
    """A method that is one flow event, built from the named parameters and fixed values."""
    build: Callable[..., m.Event] = event

    async def handler(svc: ReaderService, conn: Connection, p: dict) -> dict:
        return await take(svc, conn, lambda at: build(at, *(p[name] for name in params), **fixed))
    return Route(method, roles, handler, event)


def show_json(show: m.Show) -> dict:
    """A step as clients see it (step.changed, guidance, status, kiosk.current)."""
    return {"step": show.step, "message": show.message, "ja": show.ja, "en": show.en,
            "options": list(show.options), "data": show.data}


# -- handlers that are more than one event ----------------------------------------------------------------------
async def status(svc: ReaderService, conn: Connection, p: dict) -> dict:
    active = svc.machine.state != State.IDLE
    failure = svc.store_error or (svc.store.failure if svc.store is not None else None)
    return {"state": svc.machine.state, "session_id": svc.session_id if active else None,
            "status": svc.status_line(), "reader": {"url": svc.transport.url, "fault": svc.reader_fault},
            "store": {"ok": failure is None, "error": failure},
            "kiosk_holder": svc.claim.as_json(),
            "next_mode": svc.next_mode, "capabilities": svc.rpc.capabilities,
            "step": show_json(svc.current) if svc.current and active else None}


async def mode_set(svc: ReaderService, conn: Connection, p: dict) -> dict:
    svc.next_mode = p["mode"]          # checked against the OpenRPC document's enum
    return {"next_mode": svc.next_mode}


async def set_challenge(svc: ReaderService, conn: Connection, p: dict) -> dict:
    try:
        nonce = base64.b64decode(p["nonce"], validate=True)
    except (ValueError, TypeError):
        nonce = b""
    try:                                  # the length is ChallengeSet's to check (messages.NONCE_BYTES)
        event = m.ChallengeSet(now(), nonce)
    except InvalidEvent:
        raise rpc_errors.InvalidParams("nonce: base64 of 16-64 random bytes") from None
    return await take(svc, conn, lambda at: event)


async def result_last(svc: ReaderService, conn: Connection, p: dict) -> dict:
    result = await svc.results.latest()
    if result is None:
        raise rpc_errors.NoResult()
    return result


async def result_get(svc: ReaderService, conn: Connection, p: dict) -> dict:
    result = await svc.results.of(p["session_id"])
    if result is None:
        raise rpc_errors.NoResult(f"no result is kept for session {p['session_id']} (results are kept for "
                                  f"{RESULT_KEEP_SECONDS // 60} minutes)")
    return result


async def release_kiosk(svc: ReaderService, conn: Connection, p: dict) -> dict:
    return {"released": svc.claim.release()}


async def kiosk_current(svc: ReaderService, conn: Connection, p: dict) -> dict:
    """Everything a screen that has just (re)loaded needs: the step, the countdown, the mode the next card starts
    in, a fault not yet recovered (so neither is lost with the page), and whether a phone reader is there (the
    waiting screen then offers スマホ)."""
    screen = {"next_mode": svc.next_mode, "fault": svc.reader_fault or svc.cards.fault,
              "phone_reader": "phone_reader" in svc.rpc.capabilities}
    if svc.machine.state == State.IDLE or svc.current is None:
        return {"state": State.IDLE, "step": None, "timeout": None, **screen}
    return {"state": svc.machine.state, "step": show_json(svc.current), "timeout": timeout_json(svc), **screen}


def timeout_json(svc: ReaderService) -> dict | None:
    """The idle timeout, for the patient screen's countdown: seconds left when asked (the screen counts down
    from there and asks again at each event), and the full length."""
    deadline = svc.machine.idle_deadline()
    if deadline is None:
        return None
    left = max(0.0, (deadline - now()).total_seconds())
    return {"seconds_left": round(left, 1), "idle_timeout": svc.machine.policy.idle_timeout_seconds}


async def still_here(svc: ReaderService, conn: Connection, p: dict) -> dict:
    reply = await take(svc, conn, lambda at: m.StillHere(at))
    return {**reply, "timeout": timeout_json(svc)}


async def call_staff(svc: ReaderService, conn: Connection, p: dict) -> dict:
    """The patient asks for help from any screen (with or without a card): reception hears it. It claims
    nothing and changes no step; staff come over and, if needed, use session.request_visual."""
    active = svc.machine.state != State.IDLE
    event = {"session_id": svc.session_id if active else None, "state": svc.machine.state,
             "reason": p.get("reason", "help"), "at": now().isoformat()}
    svc.rpc.broadcast("staff.called", event, RECEPTION)
    log.info("the patient called staff (%s) in %s", event["reason"], event["state"],
             extra={"EVENT": "staff_called", "SESSION_ID": event["session_id"]})
    return {"called": True, "state": svc.machine.state}


async def submit_pin(svc: ReaderService, conn: Connection, p: dict) -> dict:
    raw = p.get("pin")
    try:
        pin = Pin(raw if isinstance(raw, str) else "")
    except ValueError:
        raise rpc_errors.InvalidParams("pin: exactly 4 digits") from None
    finally:
        p.pop("pin", None)
    try:
        return await take(svc, conn, lambda at: m.PinEntered(at, pin, bool(p.get("confirm_last_try"))))
    except Exception:
        pin.wipe()
        raise


async def metrics(svc: ReaderService, conn: Connection, p: dict) -> dict:
    return {"text": svc.metrics.render(svc.store_ok())}


async def flash_shown(svc: ReaderService, conn: Connection, p: dict) -> dict:
    """The patient screen painted the first colour of the face check's sequence (guidance code "flash")."""
    svc.claim.check(conn)
    taken = svc.faces.face is not None and svc.faces.face.flash_shown(p["nonce"])
    return {"accepted": bool(taken)}


# -- the table -------------------------------------------------------------------------------------------------
# hello, rpc.discover, subscribe and unsubscribe are the server's own (rpc/server.py), on both sockets.
ROUTES: tuple[Route, ...] = (
    Route("status", BOTH, status),
    Route("mode.set", BOTH, mode_set),
    feeds("session.cancel", RECEPTION, m.Cancelled, by="staff"),
    feeds("session.request_visual", RECEPTION, m.VisualCheckRequested),
    feeds("session.confirm_visual", RECEPTION, m.VisualConfirmed, "staff"),
    Route("session.set_challenge", RECEPTION, set_challenge, m.ChallengeSet),
    feeds("session.lift_face_lock", RECEPTION, m.FaceLockLifted, "staff"),
    Route("result.last", RECEPTION, result_last),
    Route("result.get", RECEPTION, result_get),
    Route("kiosk.release", RECEPTION, release_kiosk),
    Route("metrics", RECEPTION, metrics),
    Route("kiosk.current", KIOSK, kiosk_current),
    feeds("kiosk.choose_method", KIOSK, m.MethodChosen, "method"),
    Route("kiosk.submit_pin", KIOSK, submit_pin, m.PinEntered),
    feeds("kiosk.answer", KIOSK, m.ConsentAnswered, "screen", "answer"),
    feeds("kiosk.cancel", KIOSK, m.Cancelled, by="patient"),
    Route("kiosk.still_here", KIOSK, still_here, m.StillHere),
    Route("kiosk.call_staff", KIOSK, call_staff),
    Route("kiosk.flash_shown", KIOSK, flash_shown),
)


def methods_for(role: Role) -> list[str]:
    """The table's methods a socket of this role may call (without the server's own)."""
    return sorted(r.method for r in ROUTES if role in r.roles)


def mount(rpc: RpcServer, svc: ReaderService) -> None:
    """Serve the table on ``rpc`` for ``svc``: each method with its roles, and the events clients may subscribe to."""
    for route in ROUTES:
        rpc.add(route.method, _bind(route.handler, svc), route.roles)
    rpc.events.update(NOTIFICATIONS)


def _bind(handler: Handler, svc: ReaderService) -> Callable[[Connection, dict], Awaitable[Any]]:
    async def call(conn: Connection, p: dict) -> Any:
        return await handler(svc, conn, p)
    return call
