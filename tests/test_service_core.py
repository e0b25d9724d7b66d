"""The service core takes parts, not the configuration: here it is built by hand (no config, no sockets) from
the in-process virtual card, a store, the flow and a bare RPC server, and a PIN reception runs through the
protocol table's handlers with a recording stand-in for the clients."""
import asyncio
import concurrent.futures
from types import SimpleNamespace

from mynareader.daemon.reception.consent import load_catalogue
from mynareader.daemon.reception.machine import Reception
from mynareader.daemon.reception.policy import Policy
from mynareader.daemon.rpc.server import Role, RpcServer
from mynareader.daemon.service import protocol
from mynareader.daemon.service.card_face import CardFaceSource
from mynareader.daemon.service.card_worker import CardWorker
from mynareader.daemon.service.core import ReaderService
from mynareader.daemon.store import Store
from mynareader.device.registry import open_reader


async def reception(tmp_path) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []
    rpc = RpcServer()
    rpc.broadcast = lambda event, params, roles=None: sent.append((event, params))    # the clients, recorded
    reader = open_reader(f"sim://fresh?state={tmp_path / 'card'}")
    store = Store(tmp_path / "state")
    service = ReaderService(flow=Reception(Policy(), load_catalogue(None), store, face_enabled=False), rpc=rpc,
                            reader=reader, worker=CardWorker(reader), card_face=CardFaceSource("none", reader),
                            face=None, store=store, store_error=None,
                            flow_thread=concurrent.futures.ThreadPoolExecutor(1))
    protocol.mount(rpc, service)
    kiosk = SimpleNamespace(role=Role.KIOSK, on_close=[], id=1, peer=None)

    async def call(name: str, **params) -> dict:
        return await rpc.methods[name].handler(kiosk, params)

    async def reach(state: str) -> None:
        for _ in range(400):
            if (await call("kiosk.current"))["state"] == state:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"never reached {state}")

    await service.start()             # the card is on the reader from the start: a session begins
    try:
        await reach("choose_method")
        await call("kiosk.choose_method", method="pin")
        await reach("pin_entry")
        await call("kiosk.submit_pin", pin="1234")
        await reach("consent")
        await call("kiosk.answer", screen="comprehensive", answer="agree")
        await reach("take_card")
        assert service.claim.holder is kiosk
    finally:
        await service.stop()
    return sent


def test_the_core_runs_a_reception_from_parts(tmp_path):
    sent = asyncio.run(reception(tmp_path))
    events = [name for name, _ in sent]
    assert events[0] == "session.started" and "result" in events and events[-1] == "session.ended"
    result = next(params for name, params in sent if name == "result")
    assert result["identity"]["method"] == "pin" and result["type"] == "reception"
