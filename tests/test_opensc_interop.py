"""OpenSC's own JPKI driver, through the real pcscd, agrees with our card layer on the virtual card.

An independent implementation reading the same tries, the same certificate bytes, and producing a signature
that verifies under the certificate we read: the virtual card is faithful where we depend on it.
"""
import glob
import re
import subprocess

import pytest

from mynareader.device.apdu import Applet
from mynareader.device.card import MyNumberCard

from helpers.bench_devices import start_vpcd

pytestmark = [pytest.mark.pcscd, pytest.mark.opensc]

OPENSC_CONF = """app default {
    framework pkcs15 { use_file_caching = no; }
}
"""


@pytest.fixture
def opensc_env(tmp_path, monkeypatch):
    conf = tmp_path / "opensc.conf"
    conf.write_text(OPENSC_CONF)
    monkeypatch.setenv("OPENSC_CONF", str(conf))
    modules = glob.glob("/usr/lib/*/opensc-pkcs11.so") + glob.glob("/usr/lib/opensc-pkcs11.so")
    assert modules, "OpenSC's PKCS#11 module is missing: make test installs the opensc package"
    return modules[0]


@pytest.fixture
def vcard(pcscd, tmp_path):
    with start_vpcd("fresh", tmp_path / "card") as bench:
        transport = bench.open()
        bench.wait_present(transport)
        transport.close()
        yield bench


def run(*cmd: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{cmd[0]} failed: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


def our_view(bench):
    transport = bench.open()
    try:
        card = MyNumberCard(transport)
        card.connect()
        return card.pin_tries(), card.auth_certificate()
    finally:
        transport.close()


def opensc_user_pin_tries() -> int:
    out = run("pkcs15-tool", "--list-pins")
    block = out.split("PIN [User Authentication PIN]", 1)[1].split("PIN [", 1)[0]
    return int(re.search(r"Tries left\s*:\s*(\d+)", block).group(1))


def test_same_tries_as_opensc(vcard, opensc_env):
    assert opensc_user_pin_tries() == our_view(vcard)[0] == 3
    assert vcard.control("set-tries 2") == "ok"
    assert opensc_user_pin_tries() == our_view(vcard)[0] == 2
    # listing PINs queried the counters without consuming a try
    assert vcard.slot.card.tries("pin") == 2


def test_same_certificate_bytes_as_opensc(vcard, opensc_env, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    pem = run("pkcs15-tool", "--read-certificate", "01")
    opensc_der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
    assert opensc_der == our_view(vcard)[1].der


def test_opensc_signature_verifies_under_our_certificate(vcard, opensc_env, tmp_path):
    message = tmp_path / "challenge.bin"
    message.write_bytes(b"reception challenge 2026-11-24")
    signature = tmp_path / "sig.bin"
    run("pkcs11-tool", "--module", opensc_env, "--slot-index", "0", "--login", "--pin", "1234", "--sign",
        "--mechanism", "SHA256-RSA-PKCS", "--id", "01", "--input-file", str(message),
        "--output-file", str(signature))
    tries, cert = our_view(vcard)
    assert tries == 3
    assert cert.verify_signature(signature.read_bytes(), message.read_bytes())
    assert not cert.verify_signature(signature.read_bytes(), b"something else")


def test_opensc_probes_of_other_drivers_all_fail(vcard, opensc_env):
    run("pkcs15-tool", "--list-pins")
    ours = {a.value for a in Applet}
    probes = [(cmd, resp) for cmd, resp in vcard.slot.exchanges
              if cmd[1] == 0xA4 and cmd[2] == 0x04 and cmd[5:5 + cmd[4]] not in ours]
    assert len(probes) >= 5, "OpenSC is expected to probe with other drivers' AIDs first"
    assert all(resp[-2:] in (b"\x6A\x82", b"\x6D\x00") for _cmd, resp in probes)
