"""Bench card backends for the card-layer tests: the same tests run over each of them.

A backend starts a virtual card of a profile and yields a :class:`Bench`: the reader URL, a way to open a
transport, and the control commands of the bench slot (insert, remove, set-tries, pull-after, ...).
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
from pathlib import Path
from typing import Callable, Iterator

from mynareader.device.mock.slot import CardSlot
from mynareader.device.mock.vpcd import VpcdBridge
from mynareader.device.mock.sim import SimTransport
from mynareader.device.registry import open_reader
from mynareader.device.transport import Transport

from helpers.pcscd import VPCD_READER


@dataclasses.dataclass
class Bench:
    url: str
    control: Callable[[str], str]
    open: Callable[[], Transport]
    slot: CardSlot | None = None   # when the card runs in this process: its APDU log

    def wait_present(self, transport: Transport, timeout: float = 15.0) -> None:
        if not transport.card_present() and not transport.wait_for_change(False, timeout):
            raise AssertionError(f"no card appeared on {self.url}")


@contextlib.contextmanager
def start_sim(profile: str, state_dir: Path) -> Iterator[Bench]:
    slot = CardSlot(state_dir, profile)
    yield Bench(f"sim://{profile}?state={state_dir}", slot.control, lambda: SimTransport(slot), slot)


@contextlib.contextmanager
def start_vpcd(profile: str, state_dir: Path) -> Iterator[Bench]:
    """The virtual card in this process, served to the real pcscd through vpcd (needs the pcscd fixture)."""
    slot = CardSlot(state_dir, profile)
    bridge = VpcdBridge(slot)
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    url = f"pcsc://?reader={VPCD_READER}"
    try:
        yield Bench(url, slot.control, lambda: open_reader(url), slot)
    finally:
        bridge.stop()
        thread.join(10)
        probe = open_reader(url)  # let pcscd see the removal before the next test inserts a card
        try:
            if probe.card_present():
                probe.wait_for_change(True, 10)
        finally:
            probe.close()


BACKENDS: dict[str, Callable[[str, Path], contextlib.AbstractContextManager[Bench]]] = {
    "sim": start_sim,
    "pcsc": start_vpcd,
}

try:  # the PN532 emulator on a pty, where its module exists
    from helpers.bench_pn532 import start_pn532_bench
    BACKENDS["pn532"] = start_pn532_bench
except ImportError:
    pass
