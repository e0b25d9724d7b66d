"""The reader as a process, on one page: every part built from the configuration and handed to the service.

The configuration is read here and nowhere below: each part gets the values it needs. What runs where:

    event loop (asyncio)   the service core (service/core.py); the sockets (rpc/server.py, rpc/tls.py: a Unix
                           socket per role, or systemd's, and the TLS listener, service/listeners.py); the
                           protocol handlers (service/protocol.py); face attempts and card actions as tasks
    flow thread            the reception flow (reception/machine.py) and the store it reads (store.py, SQLite)
    card thread            every card operation, one at a time (service/card_worker.py CardWorker)
    presence thread        the reader's card-present watch, its own reader context (PresenceWatcher); with a
                           phone reader, both readers (device/reader_pair.py)
    face thread            camera frames, handed to the worker (service/face_check.py FaceCheck)
    default executor       card-face reads (the camera; frames handed to the worker, service/card_face.py), the
                           presence re-check
    bench thread           the bench control socket, when [bench] control is set (device/bench_control.py)
    worker process         the heavy native work: face detection, landmarks, descriptor, liveness mesh and the
                           card-face OCR, models loaded once (worker/process.py ProcessWorker; 'spawn'); restarted
                           with backoff when it crashes or misses [face] worker_deadline
"""
from __future__ import annotations

import concurrent.futures
import logging

from ...device import registry
from ...device.reader_pair import ReaderPair
from ...device.registry import open_reader
from ..config import Config, Network as NetworkSection
from ..reception.consent import load_catalogue
from ..reception.machine import Reception
from ..rpc import params
from ..rpc.server import Limits, Role, RpcServer
from ..service import protocol
from ..service.card_face import CardFaceSource
from ..service.card_worker import CardWorker
from ..service.core import ReaderService
from ..service.listeners import Network, UnixSocket
from ..service.metrics import Metrics, booted_slot, release, update_rolled_back
from ..store import Store, StoreError
from ..worker.interface import Spec, Worker
from ..worker.process import ProcessWorker

log = logging.getLogger("mynareader")


def compose(config: Config) -> ReaderService:
    """The reader service for ``config``, with the protocol table mounted on its server; ``start()`` runs it."""
    native = build_worker(config)
    face = build_face(config, native)
    catalogue = load_catalogue(config.consent.catalogue or None)
    store, store_error = open_store(config)
    reader = open_reader(config.devices.reader)
    if config.devices.phone_reader:     # one session at a time: whichever reader holds a token first
        reader = ReaderPair(reader, open_reader(config.devices.phone_reader))
    worker = CardWorker(reader)
    card_face = CardFaceSource(config.devices.cardface, reader, native)
    face_on = card_face.available and face is not None
    flow = Reception(config.policy, catalogue, store, face_enabled=face_on)
    lim = config.limits
    rpc = RpcServer(Limits(max_message=lim.max_message, rate_per_second=lim.rate_per_second,
                           max_connections=lim.max_connections),
                    capabilities=["pin", "visual_check", "registration", "consent"] + (["face"] if face_on else [])
                    + (["phone_reader"] if config.devices.phone_reader else []),
                    discover=protocol.openrpc_document, check_params=params.checker(protocol.openrpc_document()))
    s = config.sockets
    sockets = [UnixSocket(Role.RECEPTION, s.reception, config.socket_mode, s.reception_group or None),
               UnixSocket(Role.KIOSK, s.kiosk, config.socket_mode, s.kiosk_group or None)]
    service = ReaderService(flow=flow, rpc=rpc, reader=reader, worker=worker, card_face=card_face, face=face,
                            store=store, store_error=store_error,
                            flow_thread=concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="flow"),
                            sockets=sockets, network=network(config.network, rpc),
                            bench_control=config.bench.control, native=native,
                            metrics=Metrics(release(), booted_slot(), update_rolled_back),
                            metrics_file=(config.metrics.textfile, config.metrics.interval))
    protocol.mount(rpc, service)
    return service


def build_worker(config: Config) -> Worker | None:
    """The native worker process (not started yet): the face models when face authentication can be on, the OCR
    when the card-face source is a camera; None when neither is needed. Its fault hooks only with [bench] control."""
    ocr = registry.scheme_of(config.devices.cardface) in registry.CAMERAS
    face = config.devices.cardface != "none" and face_installed()
    if not (face or ocr):
        return None
    spec = Spec(face=face, model=config.face.model, threshold=config.face.threshold,
                liveness=config.policy.liveness, ocr=ocr, faults=bool(config.bench.control))
    return ProcessWorker(spec, deadline=config.face.worker_deadline)


def face_installed() -> bool:
    try:
        import numpy  # noqa: F401  (the face pipeline's own imports are the worker's)
        import onnxruntime  # noqa: F401
    except ImportError:
        log.warning("face authentication is off: the face pipeline is not installed")
        return False
    return True


def build_face(config: Config, worker: Worker | None):
    """The face check for the configured camera on ``worker``, or None when face authentication is off."""
    if worker is None or not worker.spec.face:
        return None
    from ..service.face_check import FaceCheck
    return FaceCheck(worker, config.devices.camera)


def open_store(config: Config) -> tuple[Store | None, str | None]:
    """The state store, or why it cannot be used: the reader still starts, with identity checks paused."""
    try:
        return Store(config.state.directory, config.state.marker_path), None
    except StoreError as exc:
        log.error("state store unavailable: %s", exc, extra={"EVENT": "store_unavailable"})
        return None, str(exc)


def network(net: NetworkSection, rpc: RpcServer) -> Network | None:
    """The TLS listener for a reception PC when [network] listen is set (its files are read when it starts)."""
    if not net.listen:
        return None
    from ..rpc.tls import TlsFiles, TlsListener, parse_listen
    host, port = parse_listen(net.listen)
    return Network(TlsListener(rpc, TlsFiles(net.ca, net.cert, net.key, net.crl, net.min_tls,
                                             net.handshake_timeout)), host, port)
