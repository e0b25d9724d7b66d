"""The state store on a real filesystem that fills up or turns read-only (a size-limited tmpfs mounted by the test,
as root): identity checks pause with a status that says why, nothing on the card is tried, nothing already in the
store is lost or half-written, and the next patient is served once the disk is usable again."""
from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from mynareader.daemon.app.inprocess import InProcessReader, demo_config
from mynareader.daemon.config import State
from mynareader.daemon.rpc.client import Client
from mynareader.daemon.store import DB_NAME
from mynareader.device.bench_control import send_control

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root (CI is root)")


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MB ext4 on a loop device, mounted as a Pi's data partition is (errors=remount-ro)."""
    image, mount = tmp_path / "disk.img", tmp_path / "disk"
    mount.mkdir()
    with open(image, "wb") as f:
        f.truncate(8 * 2 ** 20)
    subprocess.run(["mkfs.ext4", "-q", str(image)], check=True)
    mounted = subprocess.run(["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"this machine cannot mount a loop device: {mounted.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def turn_read_only(mount: Path) -> None:
    """What the kernel does to ext4 after an I/O error on a worn SD card: the filesystem goes read-only under the
    running reader (ext4's own error path, triggered through its sysfs switch)."""
    device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mount)], capture_output=True, text=True,
                            check=True).stdout.strip()
    Path(f"/sys/fs/ext4/{Path(device).name}/trigger_fs_error").write_text("test: the SD card failed\n")
    assert "emergency_ro" in subprocess.run(["findmnt", "-n", "-o", "OPTIONS", str(mount)], capture_output=True,
                                            text=True).stdout


@pytest.fixture
def reader(tmp_path, small_disk):
    config = dataclasses.replace(demo_config(tmp_path, profile="empty"), state=State(str(small_disk / "state")))
    r = InProcessReader(config)
    yield r
    r.close()


def store_rows(config) -> dict[str, int]:
    db = sqlite3.connect(f"file:{Path(config.state.directory) / DB_NAME}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("failures", "audit")}
    finally:
        db.close()


def wrong_pin_then_leave(config, kiosk: Client) -> int:
    """A patient types one wrong PIN and takes the card: a failure the store must keep. The card's tries left."""
    send_control(config.bench.control, "insert fresh")
    wait_step(kiosk, "choose_method")
    kiosk.call("kiosk.choose_method", method="pin")
    wait_step(kiosk, "pin_entry")
    kiosk.call("kiosk.submit_pin", pin="9999")
    wait_step(kiosk, "pin_entry")
    tries = pin_tries(config)
    send_control(config.bench.control, "remove")
    return tries


def wait_step(kiosk: Client, step: str) -> dict:
    while True:
        params = kiosk.next_event(30, name="step.changed")["params"]
        if params["step"] == step:
            return params


def fill(disk: Path) -> list[Path]:
    """Write until the filesystem is full to the last block: ext4 hands back a few preallocated blocks when a file
    is closed, so keep filling, in ever smaller writes synced to disk, until not one more block can be had."""
    fillers: list[Path] = []
    chunk = 2 ** 20
    while chunk >= 4096:
        filler = disk / f"filler-{len(fillers)}"
        fillers.append(filler)
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * chunk)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                assert exc.errno == 28, exc      # ENOSPC
                chunk //= 2
    return fillers


def pin_tries(config) -> int:
    status = send_control(config.bench.control, "status")
    return int(status.split("pin=")[1].split()[0])


@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_a_store_that_cannot_be_written_pauses_identity_checks_and_loses_nothing(reader, small_disk, fault):
    config = reader.config
    with Client(config.sockets.kiosk) as kiosk, Client(config.sockets.reception) as reception:
        kiosk.call("subscribe", events=["step.changed"])
        reception.call("subscribe", events=["session.aborted", "result"])
        tries = wrong_pin_then_leave(config, kiosk)
        reception.next_event(30, name="session.aborted")
        before = store_rows(config)
        assert before["failures"] == 1 and tries == 2

        fillers = fill(small_disk) if fault == "full" else None
        if fault == "read-only":
            turn_read_only(small_disk)
        send_control(config.bench.control, "insert fresh")
        aborted = reception.next_event(30, name="session.aborted")["params"]
        assert aborted["reason"] == "store_unavailable"
        status = reception.call("status")
        assert status["store"]["ok"] is False
        said = status["store"]["error"]
        assert ("is full" in said) if fault == "full" else ("read-only" in said), said
        assert "store" in status["status"].lower()
        assert pin_tries(config) == tries           # nothing was tried on the card
        for _ in range(3):                          # the reader keeps answering while the disk is bad
            assert reception.call("status")["state"] in ("idle", "take_card")
        send_control(config.bench.control, "remove")

        assert store_rows(config) == before         # nothing lost, nothing half-written
        if fillers is None:
            return      # a filesystem the kernel turned read-only stays so until a technician's fsck and reboot
        for filler in fillers:
            filler.unlink()
        # the next patient is served, and the store says it is well again
        send_control(config.bench.control, "insert fresh")
        wait_step(kiosk, "choose_method")
        assert reception.call("status")["store"] == {"ok": True, "error": None}
        send_control(config.bench.control, "remove")
        after = store_rows(config)
        assert after["failures"] == before["failures"] and after["audit"] > before["audit"]
