"""The PN532 emulator on a pty, as a bench backend for the card-layer tests (see bench_devices.py)."""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from mynareader.device.mock.pn532_emulator import Pn532Emulator, open_pty
from mynareader.device.mock.slot import CardSlot
from mynareader.device.registry import open_reader


@contextlib.contextmanager
def start_pn532_bench(profile: str, state_dir: Path, extended_frames: bool = True):
    from helpers.bench_devices import Bench
    slot = CardSlot(state_dir, profile)
    port, path = open_pty()
    emulator = Pn532Emulator(slot, port, extended_frames)
    thread = threading.Thread(target=emulator.run, daemon=True)
    thread.start()
    url = f"pn532://{path}"
    bench = Bench(url, emulator.control, lambda: open_reader(url), slot)
    bench.emulator = emulator
    try:
        yield bench
    finally:
        emulator.stop()
        thread.join(5)
