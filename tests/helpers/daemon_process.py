"""The real daemon as a process, on the bench: pcscd + vpcd + the virtual card (its own process), the bench
camera and the bench card-face source. Tests steer the card and camera through their control sockets."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mynareader.daemon.rpc.client import Client
from mynareader.device.bench_control import send_control

EXE = str(Path(sys.executable).with_name("mynareader"))


class BenchDaemon:
    def __init__(self, tmp: Path, profile: str = "empty", settings: dict[str, str] | None = None):
        self.tmp = tmp
        self.card_control = str(tmp / "card.sock")
        self.bench_control = str(tmp / "bench.sock")
        self.reception_path, self.kiosk_path = str(tmp / "reception.sock"), str(tmp / "kiosk.sock")
        self.mock = subprocess.Popen([EXE, "mock", "card", "--profile", profile, "--state", str(tmp / "card"),
                                      "--control", self.card_control], stdout=subprocess.PIPE, text=True)
        assert "served to vpcd" in self.mock.stdout.readline()
        overrides = settings
        settings = {"devices.reader": "pcsc://?reader=Virtual PCD", "devices.camera": "bench://holder",
                    "devices.cardface": f"control:{self.card_control}", "state.directory": str(tmp / "state"),
                    "sockets.reception": self.reception_path, "sockets.kiosk": self.kiosk_path,
                    "bench.control": self.bench_control}
        settings.update({k: v.replace("{card_control}", self.card_control) for k, v in (overrides or {}).items()})
        args = [EXE, "run"]
        for key, value in settings.items():
            args += ["--set", f"{key}={value}"]
        self.log = open(tmp / "daemon.log", "w")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_SOCKET", "LISTEN_"))}
        self.daemon = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while not (os.path.exists(self.reception_path) and os.path.exists(self.bench_control)):
            assert self.daemon.poll() is None, (tmp / "daemon.log").read_text()
            assert time.monotonic() < deadline, "the daemon did not open its sockets"
            time.sleep(0.1)
        self.reception = Client(self.reception_path)
        self.kiosk = Client(self.kiosk_path)
        self.reception.call("subscribe")

    def log_text(self) -> str:
        """What the daemon has logged so far."""
        self.log.flush()
        return (self.tmp / "daemon.log").read_text()

    def card(self, line: str) -> str:
        return send_control(self.card_control, line)

    def camera(self, line: str) -> str:
        return send_control(self.bench_control, line)

    def wait_state(self, state: str, timeout: float = 30.0) -> dict:
        return self.kiosk.wait_state(state, timeout)

    def pin_then_consent(self, pin: str = "1234") -> None:
        """The patient chooses the PIN, enters it, and agrees on the comprehensive consent screen."""
        self.kiosk.call("kiosk.choose_method", method="pin")
        self.wait_state("pin_entry")
        self.kiosk.call("kiosk.submit_pin", pin=pin)
        self.wait_state("consent")
        self.kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")

    def event(self, name: str, timeout: float = 30.0) -> dict:
        return self.reception.next_event(timeout, name=name)["params"]

    def close(self) -> None:
        for c in (self.reception, self.kiosk):
            c.close()
        self.daemon.send_signal(signal.SIGTERM)
        try:
            self.daemon.wait(20)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
        self.mock.send_signal(signal.SIGTERM)
        self.mock.wait(20)
        self.log.close()
