"""The Java, C# (mono) and Node.js examples in docs/examples, compiled and run against the real daemon (a process,
on pcscd + vpcd + the virtual card) over mutual TLS on loopback, each completing a reception; the patient's side
is driven by the test through the Unix kiosk socket."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from helpers.daemon_process import BenchDaemon
from helpers.tls import PASSWORD, Pki

pytestmark = pytest.mark.pcscd

EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The examples compiled once: javac and mcs are part of the test (a client that does not build fails)."""
    out = tmp_path_factory.mktemp("examples")
    for tool in ("javac", "java", "mcs", "mono", "node"):
        assert shutil.which(tool), f"{tool} is missing: make test installs it (the Makefile's TEST_PACKAGES)"
    subprocess.run(["javac", "-d", str(out), str(EXAMPLES / "ReceptionClient.java")], check=True, timeout=180)
    subprocess.run(["mcs", "-r:System.Web.Extensions", f"-out:{out / 'ReceptionClient.exe'}",
                    str(EXAMPLES / "ReceptionClient.cs")], check=True, timeout=180)
    return out


@pytest.fixture(scope="module")
def daemon(pcscd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tlsdaemon")
    pki = Pki(tmp)
    pki.issue("desk", "reception")
    port = free_port()
    # TLS 1.2 allowed: mono has no TLS 1.3; Java and Node must still negotiate 1.3
    d = BenchDaemon(tmp, settings=pki.settings(f"127.0.0.1:{port}", min_tls="1.2"))
    d.address, d.clients = f"127.0.0.1:{port}", pki.clients
    deadline = time.monotonic() + 30
    while "network transport listening" not in (tmp / "daemon.log").read_text():
        assert time.monotonic() < deadline, (tmp / "daemon.log").read_text()
        time.sleep(0.1)
    yield d
    d.close()


def commands(built: Path, d) -> dict[str, list[str]]:
    args = [d.address, str(d.clients), "desk", "1"]
    return {"java": ["java", "-cp", str(built), "ReceptionClient", *args],
            "csharp": ["mono", str(built / "ReceptionClient.exe"), *args],
            "node": ["node", str(EXAMPLES / "reception-client-tls.js"), *args]}


@pytest.mark.parametrize("language,version", [("java", "TLSv1.3"), ("csharp", "Tls12"), ("node", "TLSv1.3")])
def test_example_client_completes_a_reception_over_tls(built, daemon, language, version):
    proc = subprocess.Popen(commands(built, daemon)[language], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "MYNAREADER_P12_PASSWORD": PASSWORD})
    try:
        lines = []
        deadline = time.monotonic() + 60
        while "subscribed" not in lines:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
            lines.append(line.strip())
            assert time.monotonic() < deadline, lines
        assert lines[0] == f"connected: protocol 1.0, role reception, {version}", lines
        assert daemon.card("insert fresh") == "ok"
        daemon.wait_state("choose_method")
        daemon.pin_then_consent()
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        daemon.card("remove")
        daemon.wait_state("idle")
    assert proc.returncode == 0, stderr
    result = [line for line in stdout.splitlines() if line.startswith("result ")]
    assert len(result) == 1, stdout
    assert "method=pin" in result[0]
    assert "diagnosis_medication=yes,surgery=yes,health_checkup=yes" in result[0]


def test_a_wrong_password_or_unknown_reader_is_said_in_one_line(built, daemon):
    for language, cmd in commands(built, daemon).items():
        if language == "node":
            continue        # PEM files carry no password
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "MYNAREADER_P12_PASSWORD": "wrong"})
        assert out.returncode == 2, (language, out)
        assert out.stderr.startswith("cannot reach the reader") and "Exception" not in out.stderr.split(":")[0]
