"""Start the real pcscd (with vsmartcard's vpcd reader) for the tests, unless one is already running."""
from __future__ import annotations

import os
import shutil
import subprocess
import time

from smartcard import scard

VPCD_READER = "Virtual PCD"


def virtual_reader_listed() -> bool:
    hresult, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return False
    try:
        hresult, readers = scard.SCardListReaders(ctx, [])
        return hresult == scard.SCARD_S_SUCCESS and any(VPCD_READER in r for r in readers)
    finally:
        scard.SCardReleaseContext(ctx)


class Pcscd:
    """pcscd in the foreground as a child process; stop() ends it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> None:
        if virtual_reader_listed():
            return  # a system pcscd with vpcd is already serving
        exe = shutil.which("pcscd") or "/usr/sbin/pcscd"
        if not os.path.exists(exe):
            raise RuntimeError("pcscd is not installed: run `make test`, which installs pcscd and vsmartcard-vpcd")
        self.proc = subprocess.Popen([exe, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited: {self.proc.stderr.read().decode(errors='replace')[-2000:]}")
            if virtual_reader_listed():
                return
            time.sleep(0.2)
        raise RuntimeError("pcscd started but the vpcd reader did not appear (is vsmartcard-vpcd installed?)")

    def restart(self) -> None:
        """Kill whichever pcscd runs (ours or the system's) and start ours: what a crash and restart looks like."""
        self.stop()
        subprocess.run(["pkill", "-x", "pcscd"], check=False)
        deadline = time.monotonic() + 10
        while virtual_reader_listed() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.start()

    def kill(self) -> None:
        self.stop()
        subprocess.run(["pkill", "-x", "pcscd"], check=False)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
