"""A/B updates of the reader image, in the qemu-amd64 image booted as a reader boots: OVMF starts GRUB from the
config partition, GRUB slot A or B from its environment block (make image-update-test; docs/image.md).

One disk through nine boots, each a QEMU run (-no-reboot: the guest's reboot, its watchdog reset and its power-off
all end QEMU, and the next boot is a fresh start, as a power cycle is). Each boot's steps are named in the
test-units archive (image/test/units/update-check.sh) and reported on the console:
  1. A: a bundle signed by a key outside the keyring is refused and slot B is untouched; an install of the good
     bundle is cut off by a power cut (QMP quit) once 200 MiB of slot B are written
  2. A (the old slot still boots): the good bundle installs; reboot into the try of B
  3. B: the health unit commits B once the reader is ready; power off
  4. B (a cold boot stays on B): the bad bundle (its daemon never becomes ready) installs into A; reboot
  5. A, the bad try: the health unit gives up and reboots
  6. B again, by itself: the rollback is in the journal and the metrics; a release that hangs installs into A
  7. A, the hung try: PID 1 stops (it freezes, as systemd does when it crashes), nothing feeds the hardware
     watchdog, and the watchdog fires (QEMU pauses on it here, so the test knows it was the watchdog; then the
     power is cycled, as the watchdog's reset does)
  8. B again: the second rollback is in the journal
The store's lockout and counter rows (seeded in boot 1) and the reader's CA are the same at every boot.

Skipped unless MYNAREADER_IMAGE names a built qemu-amd64 image with its bundle (make bundle). About an hour
under TCG on a busy 2-core machine (each install takes about 12 minutes). Root: it makes bundles.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from helpers.qemu_guest import REPO, Guest, uefi_disk, units_tar

pytestmark = pytest.mark.image
BOOT_TIMEOUT = 900          # seconds: a TCG boot with a busy host
INSTALL_TIMEOUT = 1800      # a 2.8 GiB slot image written inside the TCG guest
NEVER_READY = b"""# TEST ONLY: a release whose daemon never says READY (tests/test_image_update.py)
[Service]
ExecStart=
ExecStart=/bin/sleep infinity
"""
# TEST ONLY: a release whose system hangs on its try, before the reader is ready: PID 1 freezes, as systemd does
# after it crashed, and so stops feeding the hardware watchdog
HANG = b"""[Unit]
Description=TEST ONLY: the system hangs (tests/test_image_update.py)
After=basic.target
Before=mynareader.service mynareader-health.service

[Service]
Type=oneshot
StandardOutput=tty
TTYPath=/dev/console
# once this boot's test unit has said where it is (it starts alongside); then stop PID 1
ExecStart=/bin/sh -c 'for i in $$(seq 300); do [ -e /run/mrtest-reported ] && break; sleep 1; done; \
    echo "MRTEST hanging $$(cat /sys/class/watchdog/watchdog0/identity)"; sleep 2; kill -SEGV 1'

[Install]
WantedBy=multi-user.target
"""


def image_dir() -> Path:
    return Path(os.environ.get("MYNAREADER_IMAGE", REPO / "build" / "image" / "qemu-amd64")).resolve()


def bundle(out: Path, **env: str) -> None:
    subprocess.run([str(REPO / "image" / "bundle.sh"), "qemu-amd64", str(image_dir().parent)],
                   env={**os.environ, "BUNDLE": str(out), **env}, check=True, stdout=subprocess.DEVNULL)


def release(work: Path, out: Path, version: str, *changes: str | tuple[str, bytes]) -> None:
    """A bundle of the image's system with these changes: debugfs requests, or (path, content) files written."""
    system = work / f"{version}.ext4"
    subprocess.run(["cp", "--sparse=always", str(image_dir() / "system_a.ext4"), str(system)], check=True)
    for change in changes:
        if isinstance(change, tuple):
            path, content = change
            (work / "file").write_bytes(content)
            change = f"write {work / 'file'} {path}"
        subprocess.run(["debugfs", "-w", "-R", change, str(system)], check=True, capture_output=True)
    bundle(out, SYSTEM_IMAGE=str(system), VERSION=version)
    system.unlink()


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """The disk, and the bundles the guest sees in its "bundles" share: good (make bundle's), bad-signature
    (the same, signed by a CA the image does not trust), bad (a daemon that never becomes ready), hung (a system
    that hangs on its try)."""
    work = tmp_path_factory.mktemp("update")
    share = work / "bundles"
    share.mkdir()
    good = image_dir() / "update.raucb"
    assert good.exists(), "make bundle PROFILE=qemu-amd64 first"
    try:
        os.link(good, share / "good.raucb")
    except OSError:
        shutil.copy(good, share / "good.raucb")
    rogue = work / "rogue-pki"
    subprocess.run([str(REPO / "image" / "pki.sh"), str(rogue)], check=True, stdout=subprocess.DEVNULL)
    bundle(share / "bad-signature.raucb", RAUC_CERT=str(rogue / "signing.pem"), RAUC_KEY=str(rogue / "signing.key"))
    release(work, share / "bad.raucb", "never-ready", "mkdir /etc/systemd/system/mynareader.service.d",
            ("/etc/systemd/system/mynareader.service.d/never-ready.conf", NEVER_READY))
    release(work, share / "hung.raucb", "hung", ("/etc/systemd/system/mrtest-hang.service", HANG),
            "symlink /etc/systemd/system/multi-user.target.wants/mrtest-hang.service "
            "/etc/systemd/system/mrtest-hang.service")
    disk = work / "disk.img"
    uefi_disk(image_dir(), disk)
    return {"work": work, "share": share, "disk": disk, "boots": []}


def boot(bench, plan: str, until: str = "done", timeout: float = BOOT_TIMEOUT, watchdog: str = "reset") -> Guest:
    """One power-on of the disk with this boot's steps; returns once ``until`` was reported."""
    n = len(bench["boots"]) + 1
    work = bench["work"] / f"boot{n}"
    work.mkdir()
    g = Guest(image_dir(), work, uefi=bench["disk"], share=bench["share"], watchdog=watchdog,
              units=units_tar("mynareader-update-check.service", {"update-plan": plan.encode()}))
    bench["boots"].append(g)
    g.wait_for(until, timeout)
    return g


def one(g: Guest, key: str) -> str:
    return g.facts[key][-1]


def metric(g: Guest, name: str) -> str:
    return next(line for line in g.facts.get("metric", []) if line.startswith(name))


def test_a_bad_signature_is_refused_and_a_power_cut_mid_install_leaves_slot_a(bench):
    g = boot(bench, "wait-health report seed report install=bad-signature.raucb cut=good.raucb", until="writing",
             timeout=BOOT_TIMEOUT + INSTALL_TIMEOUT)
    try:
        assert one(g, "booted") == "A" and one(g, "committed") == "A"
        assert one(g, "health") == "active active"
        bench["rows"], bench["ca"] = one(g, "seeded"), one(g, "ca")
        assert bench["rows"].startswith("4 ")                       # three failures and a lifted face lock
        name, rc, _ = one(g, "install").split()
        assert name == "bad-signature.raucb" and rc != "rc=0"
        assert one(g, "slotb") == "unchanged"                        # nothing written to system_b nor boot_b
        assert any("signature" in line.lower() or "verif" in line.lower() for line in g.facts["installlog"]), \
            g.facts["installlog"]
        assert int(one(g, "writing").removesuffix("MiB")) >= 200
    finally:
        g.qmp("quit")                                                 # the power goes, mid-install
        g.close()


def test_the_old_slot_boots_after_the_power_cut_and_the_good_bundle_installs(bench):
    g = boot(bench, "wait-health report install=good.raucb report reboot", until="rebooting",
             timeout=BOOT_TIMEOUT + INSTALL_TIMEOUT)
    try:
        assert one(g, "booted") == "A" and one(g, "committed") == "A"
        assert g.facts["rows"][0] == bench["rows"] and one(g, "ca") == bench["ca"]
        name, rc, seconds = one(g, "install").split()
        bench["install_seconds"] = int(seconds.removesuffix("s"))
        assert (name, rc) == ("good.raucb", "rc=0"), g.facts.get("installlog")
        assert one(g, "primary") == "B"                               # tried once at the next boot
        assert one(g, "state") == "A=good B=bad"                      # bad from RAUC's first write until committed
        assert g.wait_exit(300) == 0
    finally:
        g.close()


def test_the_try_of_b_is_committed_once_the_reader_is_ready(bench):
    g = boot(bench, "wait-health report poweroff", until="poweroff")
    try:
        assert one(g, "booted") == "B"
        assert one(g, "health") == "active active"
        assert any("marked good and committed" in line for line in g.facts["healthlog"]), g.facts["healthlog"]
        assert one(g, "primary") == "B" and one(g, "state") == "A=good B=good"
        assert "result=updated" in one(g, "record")
        assert one(g, "rows") == bench["rows"] and one(g, "ca") == bench["ca"]   # store and TLS kept
        assert 'slot="B"' in metric(g, "mynareader_info")
        assert metric(g, "mynareader_update_rolled_back") == "mynareader_update_rolled_back 0"
        # systemd feeds /dev/watchdog0: QEMU's i6300esb or q35's own TCO timer, whichever the kernel found first
        assert one(g, "watchdog") in ("i6300ESB timer active", "iTCO_wdt active")
        assert g.wait_exit(300) == 0
    finally:
        g.close()


def test_a_cold_boot_stays_on_b_and_a_bad_release_installs_into_a(bench):
    g = boot(bench, "wait-health report install=bad.raucb report reboot", until="rebooting",
             timeout=BOOT_TIMEOUT + INSTALL_TIMEOUT)
    try:
        assert one(g, "booted") == "B" and one(g, "committed") == "B"
        assert one(g, "install").split()[:2] == ["bad.raucb", "rc=0"], g.facts.get("installlog")
        assert one(g, "primary") == "A"
        assert g.wait_exit(300) == 0
    finally:
        g.close()


def test_the_bad_try_gives_up_by_itself(bench):
    started = time.monotonic()
    g = boot(bench, "", until="committed")
    try:
        assert one(g, "booted") == "A" and one(g, "committed") == "B"
        # the daemon's start times out (120 s), the health unit waits 300 s more, then reboots
        assert g.wait_exit(BOOT_TIMEOUT + 600) == 0
        bench["bad_try_seconds"] = time.monotonic() - started
    finally:
        g.close()


def test_the_reader_is_back_on_b_and_says_so(bench):
    g = boot(bench, "wait-health report install=hung.raucb report reboot", until="rebooting",
             timeout=BOOT_TIMEOUT + INSTALL_TIMEOUT)
    try:
        def before(key: str) -> str:                    # the report made before the next install
            return g.facts[key][0]

        assert one(g, "booted") == "B" and one(g, "committed") == "B"
        assert any("rolled back to slot B" in line for line in g.facts["healthlog"]), g.facts["healthlog"]
        assert "result=rolled_back" in before("record")
        assert before("state") == "A=bad B=good"
        assert metric(g, "mynareader_update_rolled_back") == "mynareader_update_rolled_back 1"
        assert 'slot="B"' in metric(g, "mynareader_info")
        assert before("rows") == bench["rows"] and before("ca") == bench["ca"]   # lockouts kept through it all
        print(f"install of the good bundle: {bench.get('install_seconds')} s; the bad try, boot to reboot: "
              f"{bench.get('bad_try_seconds', 0):.0f} s")
        assert one(g, "install").split()[:2] == ["hung.raucb", "rc=0"], g.facts.get("installlog")
        assert one(g, "primary") == "A"
        assert g.wait_exit(300) == 0
    finally:
        g.close()


def status(g: Guest) -> str:
    return g.qmp("query-status")["return"]["status"]


def test_a_hung_try_is_reset_by_the_hardware_watchdog(bench):
    g = boot(bench, "", until="hanging", watchdog="pause")
    try:
        assert one(g, "booted") == "A" and one(g, "committed") == "B"
        hung = time.monotonic()
        while status(g) == "running":
            assert time.monotonic() - hung < 300, "the watchdog never fired"
            time.sleep(2)
        assert status(g) == "watchdog"
        bench["watchdog_seconds"] = time.monotonic() - hung
        assert "rebooting" not in g.facts and "health" not in g.facts   # nothing but the watchdog ended it
    finally:
        g.close()                                                       # the reset: a fresh power-on


def test_the_reader_is_back_on_b_after_the_hung_try(bench):
    g = boot(bench, "wait-health report poweroff", until="poweroff")
    try:
        assert one(g, "booted") == "B" and one(g, "committed") == "B"
        assert any("did not become healthy: the reader rolled back to slot B" in line
                   for line in g.facts["healthlog"]), g.facts["healthlog"]
        assert "result=rolled_back" in one(g, "record")
        assert one(g, "state") == "A=bad B=good"
        assert "A hung" in one(g, "bundle")                             # the hung release is what failed in A
        assert metric(g, "mynareader_update_rolled_back") == "mynareader_update_rolled_back 1"
        assert one(g, "rows") == bench["rows"] and one(g, "ca") == bench["ca"]
        print(f"the hung try: the watchdog fired {bench['watchdog_seconds']:.0f} s after PID 1 stopped")
    finally:
        g.close()
