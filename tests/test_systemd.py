"""The systemd units (verify, security exposure) and the daemon's notify / watchdog / socket activation,
with a real datagram NOTIFY_SOCKET and sockets passed the way systemd passes them."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mynareader.daemon.rpc.client import Client

UNITS = Path(__file__).parent.parent / "systemd"
EXE = str(Path(sys.executable).with_name("mynareader"))
ANALYZE = shutil.which("systemd-analyze")


def units_copy(tmp_path) -> Path:
    """The units with ExecStart pointing at this checkout's mynareader: verify checks that the binary exists."""
    for unit in UNITS.glob("*.s*"):
        text = unit.read_text().replace("/opt/mynareader/.venv/bin/mynareader", EXE)
        (tmp_path / unit.name).write_text(text)
    return tmp_path


def test_units_verify(tmp_path):
    assert ANALYZE, "systemd-analyze is missing: make test installs the systemd package"
    d = units_copy(tmp_path)
    out = subprocess.run([ANALYZE, "verify", "--man=no", "mynareader.service", "mynareader-reception.socket",
                          "mynareader-kiosk.socket", "mynareader-kiosk-display.service",
                          "mynareader-kiosk-web.service"],
                         cwd=d, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "error" not in out.stderr.lower(), out.stderr


@pytest.mark.parametrize("unit", ["mynareader.service", "mynareader-kiosk-web.service"])
def test_service_exposure_is_ok_or_better(tmp_path, unit):
    d = units_copy(tmp_path)
    out = subprocess.run([ANALYZE, "security", "--offline=true", str(d / unit)],
                         capture_output=True, text=True, timeout=60)
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: ([\d.]+) (\w+)", out.stdout)
    assert match, out.stdout[-500:] + out.stderr
    assert match.group(2) in ("SAFE", "OK"), match.group(0)
    assert float(match.group(1)) <= 3.0


def test_sockets_have_role_groups_and_0660():
    for role in ("reception", "kiosk"):
        text = (UNITS / f"mynareader-{role}.socket").read_text()
        assert "SocketMode=0660" in text and f"SocketGroup=mynareader-{role}" in text
        assert f"FileDescriptorName={role}" in text
    sysusers = (UNITS / "mynareader.sysusers.conf").read_text()
    assert "g mynareader-reception" in sysusers and "g mynareader-kiosk" in sysusers


def unit_settings(name: str) -> dict[str, list[str]]:
    """KEY -> every value it is given in the unit (continuation lines joined)."""
    text = (UNITS / name).read_text().replace("\\\n", " ")
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_display_unit_takes_tty1_through_seatd_and_always_comes_back():
    unit = unit_settings("mynareader-kiosk-display.service")
    env = dict(v.split("=", 1) for v in unit["Environment"])
    assert unit["User"] == ["mynareader-display"]
    assert unit["TTYPath"] == ["/dev/tty1"] and unit["StandardInput"] == ["tty-fail"]
    # the seat from seatd (its socket is open to the video group); no PAM session: its (sd-pam) helper would be
    # cage's child, and cage 0.1.4 waits on every child when it fails, so a failed start would hang for good
    assert env["LIBSEAT_BACKEND"] == "seatd" and "seatd.service" in unit["Wants"]
    assert "seatd.service" in " ".join(unit["After"]) and "PAMName" not in unit
    assert env["XDG_RUNTIME_DIR"] == "%t/mynareader-display"
    assert "getty@tty1.service" in unit["Conflicts"]
    assert unit["Restart"] == ["always"] and unit["StartLimitIntervalSec"] == ["0"]
    assert "mynareader-kiosk-web.service" in unit["Wants"] and "mynareader-kiosk-web.service" in " ".join(unit["After"])
    start = unit["ExecStart"][0].split()
    assert start[0] == "/usr/bin/cage" and "-s" not in start[:start.index("--")]    # no VT switching for patients
    # a kiosk tab: an --app window that asks for full screen ends chromium 156 on cage (docs/image.md)
    kiosk = start.index("--kiosk")
    assert start[kiosk + 1] == "http://${KIOSK_HOST}:${KIOSK_PORT}/" and not any(a.startswith("--app") for a in start)
    # the browser under the supervisor that reloads a crashed tab (tests/test_kiosk_display.py)
    supervisor = start.index("/opt/mynareader/.venv/bin/mynareader")
    assert start[supervisor + 1] == "kiosk-display" and start[supervisor + 4:supervisor + 8] == [
        "--hung-after", "${KIOSK_HUNG_AFTER}", "--", "${BROWSER}"]
    assert "--autoplay-policy=no-user-gesture-required" in start                     # the first screen speaks
    assert not any(a.startswith("--no-sandbox") for a in start)
    # the browser profile is in the runtime directory, emptied at each start
    assert "--user-data-dir=%t/mynareader-display/chromium" in start and unit["RuntimeDirectory"] == ["mynareader-display"]


def test_the_display_opens_the_address_kiosk_web_listens_on():
    display = dict(v.split("=", 1) for v in unit_settings("mynareader-kiosk-display.service")["Environment"])
    web = UNITS / "mynareader-kiosk-web.service"
    if not web.exists():
        pytest.skip("mynareader-kiosk-web.service is not in this checkout")
    start = unit_settings(web.name)["ExecStart"][0].split()
    assert start[start.index("--host") + 1] == display["KIOSK_HOST"]
    assert start[start.index("--port") + 1] == display["KIOSK_PORT"]


def test_the_display_user_is_the_patient_screen_and_no_more():
    """kiosk-web refuses users outside its group (peer.py): the browser's user is in mynareader-kiosk, never in
    mynareader-reception."""
    lines = (UNITS / "mynareader-display.sysusers.conf").read_text().splitlines()
    members = {line.split()[2] for line in lines if line.startswith("m mynareader-display ")}
    assert "u mynareader-display - \"mynareader touchscreen\" /run/mynareader-display" in lines
    assert members == {"video", "render", "input", "audio", "mynareader-kiosk"}


def test_install_doc_names_every_unit_and_every_package_it_needs():
    doc = (UNITS.parent / "docs" / "install-pi.md").read_text()
    for unit in UNITS.iterdir():
        assert unit.name in doc, f"docs/install-pi.md never mentions systemd/{unit.name}"
    makefile = (UNITS.parent / "Makefile").read_text()
    voice = re.search(r"^VOICE_PACKAGES := (.*)$", makefile, re.M).group(1).split()
    for package in voice + ["cage", "seatd", "xwayland", "chromium", "contrib"]:
        assert package in doc, f"docs/install-pi.md never mentions {package}"


def test_kiosk_web_unit_is_loopback_only_in_the_kiosk_group():
    """The patient screen's server may open kiosk.sock (group mynareader-kiosk) and serve 127.0.0.1, no more."""
    text = (UNITS / "mynareader-kiosk-web.service").read_text()
    assert "Group=mynareader-kiosk\n" in text and "User=mynareader-kiosk-web\n" in text
    assert "--host 127.0.0.1" in text and "IPAddressAllow=localhost" in text and "IPAddressDeny=any" in text
    assert "mynareader-reception" not in text
    sysusers = (UNITS / "mynareader.sysusers.conf").read_text()
    assert "m mynareader-kiosk-web mynareader-kiosk" in sysusers
    assert "m mynareader-kiosk-web mynareader-reception" not in sysusers


def test_kiosk_web_notifies_ready_and_stops_cleanly(tmp_path):
    """Type=notify: READY once it listens; SIGTERM ends it with status 0 (no reader needed to start)."""
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        env = {**os.environ, "NOTIFY_SOCKET": path}
        proc = subprocess.Popen([EXE, "kiosk-web", "--socket", str(tmp_path / "absent.sock"), "--port", "0"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            ready = recv_until(sock, "READY=1")
            assert any("STATUS=Serving the patient screen on http://127.0.0.1:" in m for m in ready)
            proc.send_signal(signal.SIGTERM)
            recv_until(sock, "STOPPING=1", timeout=20)
            assert proc.wait(20) == 0
            assert b"Traceback" not in proc.stderr.read()
        finally:
            if proc.poll() is None:
                proc.kill()


def run_args(tmp_path, extra=()):
    return [EXE, "run", "--set", f"devices.reader=sim://empty?state={tmp_path / 'card'}",
            "--set", f"state.directory={tmp_path / 'state'}",
            "--set", f"sockets.reception={tmp_path / 'r.sock'}", "--set", f"sockets.kiosk={tmp_path / 'k.sock'}",
            *extra]


def recv_until(sock, wanted: str, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        seen.append(msg)
        if wanted in msg:
            return seen
    raise AssertionError(f"no {wanted!r} from the daemon; got {seen}")


def test_notify_ready_status_watchdog_and_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}
        proc = subprocess.Popen(run_args(tmp_path), env=env, stderr=subprocess.DEVNULL)
        env["WATCHDOG_PID"] = str(proc.pid)
        try:
            ready = recv_until(sock, "READY=1")
            assert any("STATUS=Waiting for a card" in m for m in ready)
            recv_until(sock, "WATCHDOG=1", timeout=10)      # pinged from the event loop
            proc.send_signal(signal.SIGTERM)
            recv_until(sock, "STOPPING=1", timeout=20)
            assert proc.wait(20) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_socket_activation_uses_the_passed_sockets(tmp_path):
    listeners = []
    for name in ("reception", "kiosk"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(tmp_path / f"activated-{name}.sock"))
        s.listen(8)
        listeners.append(s)
    a, b = (s.fileno() for s in listeners)
    # like systemd: the sockets at fd 3 and 4, LISTEN_PID the daemon's own pid (exec keeps it)
    wrapper = ("import os, sys; os.dup2(%d, 3); os.dup2(%d, 4); os.environ.update(LISTEN_PID=str(os.getpid()), "
               "LISTEN_FDS='2', LISTEN_FDNAMES='reception:kiosk'); os.execv(sys.argv[1], sys.argv[1:])") % (a, b)
    proc = subprocess.Popen([sys.executable, "-c", wrapper, *run_args(tmp_path)], pass_fds=(a, b),
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with Client(str(tmp_path / "activated-kiosk.sock"), timeout=5) as c:
                    assert c.call("hello")["role"] == "kiosk"
                break
            except (ConnectionError, OSError):
                assert time.monotonic() < deadline
                time.sleep(0.2)
        with Client(str(tmp_path / "activated-reception.sock")) as c:
            assert c.call("hello")["role"] == "reception"
        assert not (tmp_path / "r.sock").exists()          # it did not bind its own
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        for s in listeners:
            s.close()


def test_stderr_log_lines_carry_fields_and_no_personal_data(tmp_path):
    from mynareader.daemon.app.systemd_integration import PrivacyFilter
    import logging
    record = logging.LogRecord("x", logging.INFO, "f", 1, "number %s", ("123456789012",), None)
    PrivacyFilter().filter(record)
    assert "123456789012" not in record.getMessage()


def test_stderr_log_lines_keep_the_traceback():
    import logging
    from mynareader.daemon.app.systemd_integration import _KeyValueFormatter
    try:
        raise KeyError("the real cause")
    except KeyError:
        import sys
        record = logging.LogRecord("mynareader", logging.ERROR, "f", 1, "method failed", (), sys.exc_info())
    text = _KeyValueFormatter().format(record)
    assert text.startswith("ERROR mynareader: method failed")
    assert "Traceback" in text and "KeyError: 'the real cause'" in text


def test_bench_control_socket_is_0600_whatever_the_umask(tmp_path):
    import os
    import stat
    from mynareader.device.bench_control import serve_control
    old = os.umask(0)
    try:
        server = serve_control(tmp_path / "c.sock", lambda line: "ok")
    finally:
        os.umask(old)
    try:
        assert stat.S_IMODE(os.stat(tmp_path / "c.sock").st_mode) == 0o600
    finally:
        server.shutdown()
        server.server_close()
