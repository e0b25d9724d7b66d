"""RAUC's custom bootloader backend (image/files/update/rauc-bootloader), both halves, on this machine: the Pi's
autoboot.txt (never run on a Pi here: this is its only test) and QEMU's GRUB environment block, checked with
grub-editenv, GRUB's own tool. Each case runs in a private mount namespace: a tmpfs is the config partition,
another is /run, and a file bound over /proc/cmdline says which slot "booted"; a reboot is a fresh /run and
another command line. Needs root (mount namespaces); skipped otherwise.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BACKEND = REPO / "image" / "files" / "update" / "rauc-bootloader"
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root (mounts)")


class Reader:
    """One reader's config partition and update record kept across 'boots' (each verb runs in a namespace)."""

    def __init__(self, tmp: Path, boot: str):
        self.tmp, self.boot = tmp, boot
        self.config = tmp / "config"          # the partition's contents, copied in and out of the tmpfs mount
        self.config.mkdir()
        self.run = tmp / "run"                # this boot's /run (rpi: the armed tryboot flag lives there)
        self.run.mkdir()
        self.record = tmp / "mynareader-update"
        self.slot = "A"
        if boot == "rpi":
            (self.config / "autoboot.txt").write_text(
                "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n")
        else:
            subprocess.run(["grub-editenv", str(self.config / "grubenv"), "create"], check=True)
            subprocess.run(["grub-editenv", str(self.config / "grubenv"), "set", "saved_entry=A"], check=True)

    def __call__(self, *verb: str) -> str:
        cmdline = self.tmp / "cmdline"
        cmdline.write_text(f"root=PARTLABEL=system_{self.slot.lower()} rauc.slot={self.slot} quiet\n")
        script = ('m=$0 c=$1 r=$2 l=$3 b=$4; shift 4; '
                  'mount -t tmpfs cfg "$m" && cp -a "$c"/. "$m" && mount -o remount,ro "$m" && '
                  'mount --bind "$r" /run && mount --bind "$l" /proc/cmdline || exit 99; '
                  '"$b" "$@"; rc=$?; cp -a "$m"/. "$c"; exit $rc')
        mnt = self.tmp / "mnt"
        mnt.mkdir(exist_ok=True)
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(mnt), str(self.config),
             str(self.run), str(cmdline), str(BACKEND), *verb],
            env={"PATH": os.environ["PATH"], "BOOT": self.boot, "MYNAREADER_CONFIG_PART": str(mnt),
                 "MYNAREADER_UPDATE_RECORD": str(self.record)},
            capture_output=True, text=True)
        assert done.returncode == 0, f"{verb}: {done.stderr}"
        return done.stdout.strip()

    def reboot(self, into: str) -> None:
        """A reset: /run is empty again; ``into`` is the slot the firmware (or GRUB) started."""
        shutil.rmtree(self.run)
        self.run.mkdir()
        if self.boot == "qemu" and self.env("next_entry"):
            assert into == self.env("next_entry")            # GRUB boots next_entry once, clearing it first
            subprocess.run(["grub-editenv", str(self.config / "grubenv"), "unset", "next_entry"], check=True)
        self.slot = into

    def env(self, key: str) -> str:
        listed = subprocess.run(["grub-editenv", str(self.config / "grubenv"), "list"], check=True,
                                capture_output=True, text=True).stdout
        return next((line.split("=", 1)[1] for line in listed.splitlines() if line.startswith(key + "=")), "")

    def autoboot(self) -> tuple[str, str]:
        text = (self.config / "autoboot.txt").read_text()
        assert "tryboot_a_b=1" in text
        all_, _, try_ = text.partition("[tryboot]")
        return all_.split("boot_partition=")[1].split()[0], try_.split("boot_partition=")[1].split()[0]


@pytest.fixture(params=["rpi", "qemu"])
def reader(request, tmp_path):
    if request.param == "qemu" and not shutil.which("grub-editenv"):
        pytest.skip("grub-editenv (grub-common) is missing")
    return Reader(tmp_path, request.param)


def test_an_update_is_tried_once_then_committed(reader):
    assert (reader("get-current"), reader("get-committed"), reader("get-primary")) == ("A", "A", "A")
    reader("set-state", "B", "bad")                       # RAUC, before it writes slot B
    assert reader("get-state", "B") == "bad" and reader("get-state", "A") == "good"
    reader("set-primary", "B")                            # RAUC, once slot B is written
    assert reader("get-primary") == "B" and reader("get-committed") == "A"
    assert "try=B" in reader.record.read_text()
    if reader.boot == "rpi":
        assert reader.autoboot() == ("2", "3") and (reader.run / "mynareader-tryboot").read_text().strip() == "B"
    else:
        assert (reader.env("saved_entry"), reader.env("next_entry")) == ("A", "B")
    reader.reboot(into="B")
    assert (reader("get-current"), reader("get-committed"), reader("get-primary")) == ("B", "A", "A")
    reader("set-state", "B", "good")                      # rauc status mark-good, from mynareader-health
    assert (reader("get-committed"), reader("get-primary"), reader("get-state", "B")) == ("B", "B", "good")
    if reader.boot == "rpi":
        assert reader.autoboot() == ("3", "2")            # [all] is B now, the next try would be A
    else:
        assert (reader.env("saved_entry"), reader.env("next_entry")) == ("B", "")
    reader.reboot(into="B")                               # a cold boot stays
    assert reader("get-current") == "B" == reader("get-committed")


def test_a_reset_during_the_try_comes_back_and_a_cancelled_try_is_not_armed(reader):
    reader("set-state", "B", "bad")
    reader("set-primary", "B")
    reader.reboot(into="B")                               # the try ...
    reader.reboot(into="A")                               # ... never committed: power cut, watchdog, health gave up
    assert (reader("get-current"), reader("get-committed"), reader("get-primary")) == ("A", "A", "A")
    reader("set-primary", "B")
    reader("set-state", "B", "bad")                       # a try armed, then marked bad: nothing left armed
    assert reader("get-primary") == "A"
    if reader.boot == "qemu":
        assert reader.env("next_entry") == ""


def test_nonsense_is_refused_in_words(reader):
    for verb in (("set-primary", "C"), ("set-state", "A", "maybe"), ("frobnicate",)):
        with pytest.raises(AssertionError, match="rauc-bootloader: "):
            reader(*verb)
