"""The network transport: mutual TLS on loopback in front of the real reader service (sim card), with
certificates from the real `mynareader tls` commands. Roles come from the certificate; every kind of wrong client
is refused with one log line while a good client beside it keeps working."""
import dataclasses
import logging
import socket
import ssl
import stat
import threading
import time

import pytest

from mynareader.daemon.config import ConfigError, Network, load
from mynareader.daemon.app.inprocess import InProcessReader, demo_config
from mynareader.daemon.rpc.client import Client

from helpers.tls import PASSWORD, Pki, TlsClient, client_context, foreign_client, run_cli

REFUSED = "refused a network client"


def start(tmp_path, pki: Pki, **network):
    fields = {k.split(".", 1)[1]: v for k, v in pki.settings("127.0.0.1:0").items()}
    fields.update(handshake_timeout=1.0, **network)
    config = dataclasses.replace(demo_config(tmp_path, profile="empty"), network=Network(**fields))
    reader = InProcessReader(config)
    return reader, reader.service.network.port


@pytest.fixture
def pki(tmp_path):
    p = Pki(tmp_path)
    p.issue("desk", "reception")
    p.issue("screen", "kiosk")
    return p


@pytest.fixture
def served(tmp_path, pki):
    reader, port = start(tmp_path, pki)
    yield reader, port
    reader.close()


def ctx_for(pki: Pki, name: str, **kw) -> ssl.SSLContext:
    return client_context(pki.clients / "ca.pem", pki.clients / f"{name}.pem", pki.clients / f"{name}.key", **kw)


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(REFUSED)]


def wait_refusals(caplog, n: int) -> list[str]:
    deadline = time.monotonic() + 20
    while len(refusals(caplog)) < n:
        assert time.monotonic() < deadline, refusals(caplog)
        time.sleep(0.02)
    return refusals(caplog)


def is_refused(port: int, ctx: ssl.SSLContext) -> dict | None:
    """Connect and say hello: None when the connection failed or was closed without an answer, else the error the
    reader sent before closing. A hello that succeeds fails the test."""
    try:
        c = TlsClient(port, ctx)
    except (ssl.SSLError, ConnectionError):
        return None
    with c:
        try:
            c.sock.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello"}\n')
        except (ssl.SSLError, ConnectionError):
            return None
        msg = c.read()
        assert msg is None or "error" in msg, f"a client that should be refused got {msg}"
        if msg is not None:
            assert c.read() is None, "the connection stayed open after the refusal"
        return msg


def test_each_role_comes_from_the_certificate(served, pki):
    _, port = served
    with TlsClient(port, ctx_for(pki, "desk")) as desk, TlsClient(port, ctx_for(pki, "screen")) as screen:
        assert desk.sock.version() == "TLSv1.3"
        hello = desk.call("hello")["result"]
        assert hello["role"] == "reception" and "session.cancel" in hello["methods"]
        assert screen.call("hello")["result"]["role"] == "kiosk"
        assert desk.call("subscribe", events=["result"])["result"]["subscribed"] == ["result"]
        assert screen.call("kiosk.current")["result"]["state"] == "idle"
        # the kiosk certificate cannot reach reception methods, whatever the client says
        for method in ("result.last", "session.cancel", "kiosk.release"):
            err = screen.call(method)["error"]
            assert err["data"]["name"] == "NotPermitted", err
        assert desk.call("kiosk.submit_pin", pin="1234")["error"]["data"]["name"] == "NotPermitted"


def test_the_same_framing_and_limits_as_the_unix_socket(served, pki):
    reader, port = served
    with TlsClient(port, ctx_for(pki, "desk")) as desk, Client(reader.config.sockets.reception) as local:
        assert desk.call("rpc.discover")["result"] == local.call("rpc.discover")
        desk.sock.sendall(b"not json\n")
        assert desk.read()["error"]["data"]["name"] == "ParseError"
        assert desk.call("status")["result"]["state"] == local.call("status")["state"]


def test_wrong_clients_are_refused_and_a_good_one_is_undisturbed(served, pki, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _, port = served
    ca = pki.clients / "ca.pem"
    cases = {
        "another CA": client_context(ca, *foreign_client(tmp_path, "stranger")),
        "expired": client_context(ca, *foreign_client(tmp_path, "old", expired=True,
                                                      own_ca=(pki.dir / "ca.key", pki.dir / "ca.pem"))),
        "no certificate": client_context(ca, None, None),
        "the server's own certificate": client_context(ca, pki.dir / "server.pem", pki.dir / "server.key"),
    }
    with TlsClient(port, ctx_for(pki, "desk")) as good:
        good.call("subscribe")
        for n, (what, ctx) in enumerate(cases.items(), 1):
            assert is_refused(port, ctx) is None, what
            lines = wait_refusals(caplog, n)
            assert len(lines) == n, lines
            assert good.call("status")["result"]["state"] == "idle", what
    lines = refusals(caplog)
    print("\n".join(lines))
    assert "certificate verify failed" in lines[0] or "unknown ca" in lines[0].lower() or "not accepted" in lines[0]
    assert "expired" in lines[1]
    assert "no client certificate" in lines[2] or "certificate" in lines[2]


def test_revocation_takes_effect_without_a_restart(served, pki, caplog):
    caplog.set_level(logging.INFO)
    _, port = served
    pki.issue("lost-laptop", "reception")
    with TlsClient(port, ctx_for(pki, "lost-laptop")) as c:
        assert c.call("hello")["result"]["role"] == "reception"
    assert run_cli("revoke", "lost-laptop", "--dir", str(pki.dir)) == 0
    with TlsClient(port, ctx_for(pki, "desk")) as good:
        err = is_refused(port, ctx_for(pki, "lost-laptop"))
        assert err["error"]["data"]["name"] == "NotPermitted" and "revoked" in err["error"]["message"]
        assert "revoked" in wait_refusals(caplog, 1)[0]
        assert good.call("hello")["result"]["role"] == "reception"


def alert(port: int, ctx: ssl.SSLContext) -> str:
    """The TLS alert a refused client receives (OpenSSL's reason, e.g. TLSV1_ALERT_UNKNOWN_CA). In TLS 1.3 the
    client's handshake ends before the reader has checked its certificate, so the alert comes on the first read."""
    try:
        with TlsClient(port, ctx) as c:
            c.sock.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello"}\n')
            c.sock.recv(4096)
    except ssl.SSLError as exc:
        return exc.reason
    raise AssertionError("the connection ended without an alert")


def test_refusals_in_the_handshake_end_in_the_alert_that_says_why(served, pki, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    _, port = served
    ca = pki.clients / "ca.pem"
    expected = {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED": client_context(ca, None, None),
        "TLSV1_ALERT_UNKNOWN_CA": client_context(ca, *foreign_client(tmp_path, "stranger")),
        "SSLV3_ALERT_CERTIFICATE_EXPIRED": client_context(ca, *foreign_client(
            tmp_path, "old", expired=True, own_ca=(pki.dir / "ca.key", pki.dir / "ca.pem"))),
        "TLSV1_ALERT_PROTOCOL_VERSION": ctx_for(pki, "desk", version=ssl.TLSVersion.TLSv1_2),
    }
    for n, (reason, ctx) in enumerate(expected.items(), 1):
        assert alert(port, ctx) == reason
        assert len(wait_refusals(caplog, n)) == n


def test_revoking_a_certificate_cuts_its_open_connection(served, pki, caplog):
    caplog.set_level(logging.INFO)
    _, port = served
    pki.issue("stolen-pc", "reception")
    with TlsClient(port, ctx_for(pki, "desk")) as good, TlsClient(port, ctx_for(pki, "stolen-pc")) as stolen:
        assert stolen.call("subscribe")["result"]["subscribed"]
        assert run_cli("revoke", "stolen-pc", "--dir", str(pki.dir)) == 0
        t0 = time.monotonic()
        last = stolen.read()            # blocks until the reader speaks or hangs up
        waited = time.monotonic() - t0
        assert last["error"]["data"]["name"] == "NotPermitted" and "revoked" in last["error"]["message"]
        assert stolen.read() is None, "the revoked connection stayed open"
        assert waited < 5.0 + 3, waited        # revocation_check (5 s) and some slack for a busy machine
        lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("closed network client")]
        assert len(lines) == 1 and "stolen-pc" in lines[0] and "revoked" in lines[0]
        assert good.call("hello")["result"]["role"] == "reception"


def test_a_thousand_mutual_tls_connects_beside_unix_traffic_all_succeed(served, pki):
    """The hunt for a WRONG_VERSION_NUMBER seen twice by an outside client: 500 connects one after another and 500
    twenty at a time, each a full handshake and a hello, while three Unix clients keep asking for the status."""
    reader, port = served
    ctx = ctx_for(pki, "desk")
    failures: list[str] = []
    stop = threading.Event()

    def unix_traffic():
        with Client(reader.config.sockets.reception) as c:
            while not stop.wait(0.025):    # paced under the per-connection rate limit
                c.call("status")

    def connect(i: int) -> None:
        try:
            with TlsClient(port, ctx) as c:
                assert c.call("hello")["result"]["role"] == "reception"
        except Exception as exc:      # noqa: BLE001 - every kind of failure is counted and shown
            failures.append(f"{i}: {exc!r}")

    local = [threading.Thread(target=unix_traffic) for _ in range(3)]
    for t in local:
        t.start()
    try:
        for i in range(500):
            connect(i)
        for batch in range(25):
            threads = [threading.Thread(target=connect, args=(500 + batch * 20 + j,)) for j in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        stop.set()
        for t in local:
            t.join()
    assert failures == []


def test_plain_tcp_and_a_stalled_handshake_are_refused(served, pki, caplog):
    caplog.set_level(logging.INFO)
    _, port = served
    with TlsClient(port, ctx_for(pki, "desk")) as good:
        plain = socket.create_connection(("127.0.0.1", port), timeout=20)
        plain.sendall(b'{"jsonrpc":"2.0","id":1,"method":"hello"}\n')
        received = b""
        while chunk := plain.recv(4096):      # a TLS alert at most, then closed; never a JSON reply
            received += chunk
        assert b"jsonrpc" not in received
        plain.close()
        assert "did not speak TLS" in wait_refusals(caplog, 1)[0]
        stalled = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(3)]
        # while they stall, the good client is served
        for _ in range(5):
            assert good.call("status")["result"]["state"] == "idle"
        for s in stalled:
            assert s.recv(4096) == b""      # closed by the reader after network.handshake_timeout
            s.close()
        lines = wait_refusals(caplog, 4)
        print("\n".join(lines))
        assert sum("did not finish" in line for line in lines) == 3, lines
        assert good.call("hello")["result"]["role"] == "reception"


def test_tls12_only_when_configured(tmp_path, pki):
    tls12 = ctx_for(pki, "desk", version=ssl.TLSVersion.TLSv1_2)
    reader, port = start(tmp_path, pki)
    try:
        assert is_refused(port, tls12) is None
    finally:
        reader.close()
    reader, port = start(tmp_path, pki, min_tls="1.2")
    try:
        with TlsClient(port, tls12) as c:
            assert c.sock.version() == "TLSv1.2"
            assert c.sock.cipher()[0].startswith("ECDHE-")        # forward secrecy on 1.2 too
            assert c.call("hello")["result"]["role"] == "reception"
        with TlsClient(port, ctx_for(pki, "desk")) as c:
            assert c.sock.version() == "TLSv1.3"
    finally:
        reader.close()


def test_missing_files_leave_the_unix_sockets_working(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    config = dataclasses.replace(demo_config(tmp_path, profile="empty"),
                                 network=Network(listen="127.0.0.1:0", ca=str(tmp_path / "nope" / "ca.pem"),
                                                 cert=str(tmp_path / "nope" / "server.pem"),
                                                 key=str(tmp_path / "nope" / "server.key"),
                                                 crl=str(tmp_path / "nope" / "crl.pem")))
    reader = InProcessReader(config)
    try:
        assert reader.service.network is None
        with Client(config.sockets.reception) as c:
            assert c.call("hello")["role"] == "reception"
        lines = [r.getMessage() for r in caplog.records if "network transport is off" in r.getMessage()]
        assert lines and "mynareader tls init" in lines[0]
    finally:
        reader.close()


def test_network_config_is_checked(tmp_path):
    assert load(str(_toml(tmp_path, ""))).network.listen == ""            # off by default
    assert load(str(_toml(tmp_path, '[network]\nlisten = "[::]:7443"\n'))).network.listen == "[::]:7443"
    for bad in ('listen = "7443"', 'listen = "0.0.0.0:99999"', 'min_tls = "1.1"', 'handshake_timeout = 0',
                'cipher = "x"'):
        with pytest.raises(ConfigError) as err:
            load(str(_toml(tmp_path, f"[network]\n{bad}\n")))
        assert "network." in str(err.value)


def _toml(tmp_path, text):
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_private_keys_are_0600_and_the_commands_speak_plainly(pki, capsys, tmp_path):
    for path in (pki.dir / "ca.key", pki.dir / "server.key", pki.clients / "desk.key", pki.clients / "desk.p12"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (pki.dir / "ca.pem", pki.dir / "crl.pem", pki.clients / "desk.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    capsys.readouterr()
    assert run_cli("list", "--dir", str(pki.dir)) == 0
    out = capsys.readouterr().out
    assert "desk" in out and "reception" in out and "screen" in out and "kiosk" in out and "valid" in out
    serial = next(line.split()[2] for line in out.splitlines() if line.startswith("screen"))
    assert run_cli("revoke", serial, "--dir", str(pki.dir)) == 0
    assert run_cli("list", "--dir", str(pki.dir)) == 0
    out = capsys.readouterr().out
    assert next(line for line in out.splitlines() if line.startswith("screen")).endswith("revoked")
    assert next(line for line in out.splitlines() if line.startswith("desk")).endswith("valid")
    # the PKCS#12 opens with its password and holds the key, the certificate and the CA
    from cryptography.hazmat.primitives.serialization import pkcs12
    bundle = pkcs12.load_pkcs12((pki.clients / "desk.p12").read_bytes(), PASSWORD.encode())
    assert bundle.key is not None and len(bundle.additional_certs) == 1
    # mistakes end in one line, exit 1, no traceback
    for args in (("issue", "a b", "--role", "reception", "--out", str(tmp_path / "x")),
                 ("revoke", "nobody"), ("list",)):
        d = pki.dir if args[0] != "list" else tmp_path / "empty"
        assert run_cli(*args, "--dir", str(d)) == 1
        err = capsys.readouterr().err
        assert err.startswith("mynareader: ") and "Traceback" not in err and err.count("\n") == 1, err
    # init again keeps the CA: certificates issued so far stay valid
    ca = (pki.dir / "ca.pem").read_bytes()
    assert run_cli("init", "--dir", str(pki.dir), "--ip", "192.0.2.7") == 0
    assert (pki.dir / "ca.pem").read_bytes() == ca
