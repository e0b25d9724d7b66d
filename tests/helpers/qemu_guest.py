"""A reader image booted under QEMU (TCG: no KVM here) for tests/test_image.py.

The image stays untouched (the guest writes to a qcow2 overlay). The test-only units in image/test/units, with the
clinic's network drop-in, travel as a plain tar on a second disk that the image's generator unpacks for that boot
(kernel command line ``mynareader.test-units=``). The guest reports ``MRTEST key value`` lines on its serial
console; the reader's TLS port is forwarded to 127.0.0.1 only, in a user network with ``restrict=on`` (the
guest reaches nothing outside).
"""
from __future__ import annotations

import base64
import io
import json
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEST_UNITS = REPO / "image" / "test" / "units"
NETWORK_DROPIN = REPO / "systemd" / "mynareader-network.conf"
QEMU = {"amd64": ["qemu-system-x86_64", "-machine", "q35", "-cpu", "max"],
        "arm64": ["qemu-system-aarch64", "-machine", "virt", "-cpu", "max,pauth-impdef=on"]}


OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
CONFIG_PART_OFFSET = "1M"            # image/genimage/reader.cfg: the config partition's offset


def units_tar(check: str = "mynareader-image-check.service", extra: dict[str, bytes] | None = None) -> bytes:
    """The test-only units as the generator unpacks them into /run/systemd/generator, ``check`` enabled for
    this boot; ``extra`` adds files (name -> content) beside them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(TEST_UNITS.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(TEST_UNITS)))
        tar.add(NETWORK_DROPIN, arcname="mynareader.service.d/network.conf")
        link = tarfile.TarInfo(f"multi-user.target.wants/{check}")
        link.type, link.linkname = tarfile.SYMTYPE, f"../{check}"
        tar.addfile(link)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    return data + b"\0" * (-len(data) % 65536)      # a whole number of sectors for the disk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uefi_disk(build: Path, disk: Path) -> None:
    """A writable copy of the qemu-amd64 image booted by OVMF and GRUB from its config partition, whose menu is
    given the test units' argument (as one would edit the Pi's cmdline.txt with the card in hand)."""
    subprocess.run(["cp", "--sparse=always", str(build / "reader.img"), str(disk)], check=True)
    part = f"{disk}@@{CONFIG_PART_OFFSET}"
    menu = subprocess.run(["mtype", "-i", part, "::grub.cfg"], check=True, capture_output=True).stdout
    menu += b'set cmdline="$cmdline mynareader.test-units=/dev/disk/by-id/virtio-mrtest"\n'
    patched = disk.with_name("grub.cfg")
    patched.write_bytes(menu)
    subprocess.run(["mcopy", "-o", "-i", part, str(patched), "::grub.cfg"], check=True)


class Guest:
    def __init__(self, build: Path, work: Path, arch: str = "amd64", display: bool = False,
                 extra_cmdline: str = "", memory: int = 2048, uefi: Path | None = None, share: Path | None = None,
                 units: bytes | None = None, watchdog: str = "reset"):
        """``uefi``: boot that raw disk (uefi_disk) with OVMF, its variable store kept beside it, QEMU's i6300esb
        watchdog resetting a hung guest (``watchdog="pause"``: stopping it instead, so that a test can tell a
        watchdog reset from any other end); ``share``: a host folder the guest mounts read-only (9p tag
        "bundles"); ``units``: the test-units archive (units_tar()) for this boot."""
        self.build, self.work = build, work
        self.port = free_port()
        self.qmp_path = work / "qmp.sock"
        self.lines: list[str] = []
        self.facts: dict[str, list[str]] = {}
        self._changed = threading.Condition()
        (work / "units.tar").write_bytes(units if units is not None else units_tar())
        args = [*QEMU[arch], "-accel", "tcg,thread=multi", "-smp", "2", "-m", str(memory), "-nodefaults",
                "-no-reboot", "-display", "none", "-serial", "stdio", "-monitor", "none",
                "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        if uefi is not None:
            variables = uefi.with_name("OVMF_VARS.fd")
            if not variables.exists():
                variables.write_bytes(OVMF_VARS.read_bytes())
            args += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,unit=1,file={variables}",
                     "-drive", f"file={uefi},if=none,id=system,format=raw",
                     "-device", "virtio-blk-pci,drive=system,bootindex=0",
                     # q35's own TCO timer ignores its timeout unless the board's no-reboot strap is off
                     # (QEMU 7.2's default is on): the kernel may pick either timer as /dev/watchdog0
                     "-global", "ICH9-LPC.noreboot=false",
                     "-device", "i6300esb", "-action", f"watchdog={watchdog}"]
        else:
            overlay = work / "overlay.qcow2"
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                            str(build / "reader.img"), str(overlay)], check=True)
            boot = build / "boot"
            cmdline = (boot / "cmdline.txt").read_text().strip().replace(" quiet", "")
            cmdline += " mynareader.test-units=/dev/disk/by-id/virtio-mrtest " + extra_cmdline
            args += ["-kernel", str(boot / "vmlinuz"), "-initrd", str(boot / "initrd.img"), "-append", cmdline,
                     "-drive", f"file={overlay},if=virtio,format=qcow2"]
        if share is not None:
            args += ["-virtfs", f"local,path={share},mount_tag=bundles,security_model=none,readonly=on"]
        args += ["-drive", f"file={work / 'units.tar'},if=none,id=mrtest,format=raw,readonly=on",
                "-device", "virtio-blk-pci,drive=mrtest,serial=mrtest",
                "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{self.port}-:7443",
                "-device", "virtio-net-pci,netdev=n0" + (",romfile=" if uefi else ""), "-device", "virtio-rng-pci"]
        if display:
            # a tablet stands in for the touchscreen (absolute pointer): wlroots will not start without input
            args += ["-device", "virtio-gpu-pci,xres=1280,yres=800", "-device", "virtio-tablet-pci",
                     "-device", "virtio-keyboard-pci"]
        self.console_log = open(work / "console.log", "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(["nice", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        threading.Thread(target=self._read_console, daemon=True).start()

    def _read_console(self) -> None:
        assert self.proc.stdout
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.console_log.write(line + "\n")
            self.console_log.flush()
            with self._changed:
                self.lines.append(line)
                at = line.find("MRTEST ")
                if at >= 0:
                    key, _, value = line[at + 7:].partition(" ")
                    self.facts.setdefault(key, []).append(value)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, key: str, timeout: float) -> list[str]:
        """The values reported under ``key`` once it has been reported; AssertionError with the console's tail."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while key not in self.facts:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError(f"the guest never reported {key!r} ({'QEMU ended' if left > 0 else 'timeout'}"
                                         f" after {time.monotonic() - self.started:.0f} s); console:\n{tail}")
                self._changed.wait(min(left, 1.0))
            return list(self.facts[key])

    def files(self) -> dict[str, bytes]:
        """The client files the guest issued (reported as 'file NAME BASE64')."""
        return {name: base64.b64decode(data) for name, _, data in (v.partition(" ") for v in self.facts["file"])}

    def qmp(self, command: str, **arguments) -> dict:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(60)
            s.connect(str(self.qmp_path))
            f = s.makefile("rwb")
            json.loads(f.readline())                               # the greeting
            for cmd, args in (("qmp_capabilities", {}), (command, arguments)):
                f.write(json.dumps({"execute": cmd, "arguments": args}).encode() + b"\n")
                f.flush()
                while True:
                    reply = json.loads(f.readline())
                    if "return" in reply or "error" in reply:
                        break
            return reply

    def wait_exit(self, timeout: float) -> int:
        """QEMU's exit status once the guest powered off or reset (-no-reboot: a reboot ends QEMU too)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            tail = "\n".join(self.lines[-40:])
            raise AssertionError(f"the guest was still running after {timeout:.0f} s; console:\n{tail}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.qmp("quit")
            except OSError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.console_log.close()
