"""Certificates for the network-transport tests, made with the real `mynareader tls` commands, and a small
mutual-TLS JSON-RPC client (Python's ssl, nothing mocked)."""
from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
from pathlib import Path

from mynareader.daemon.rpc import tls_pki as pki
from mynareader.daemon.cli.__main__ import main as cli

PASSWORD = "test-password"


def run_cli(*args: str) -> int:
    return cli(["tls", *args])


class Pki:
    """A reader's TLS directory and client files under tmp, as a clinic would make them."""

    def __init__(self, tmp: Path):
        self.dir = tmp / "tls"
        self.clients = tmp / "clients"
        assert run_cli("init", "--dir", str(self.dir), "--host", "localhost", "--ip", "127.0.0.1") == 0

    def issue(self, name: str, role: str) -> Path:
        assert run_cli("issue", name, "--role", role, "--out", str(self.clients), "--dir", str(self.dir),
                       "--password", PASSWORD) == 0
        return self.clients

    def settings(self, listen: str, **extra) -> dict[str, str]:
        s = {"network.listen": listen, "network.ca": str(self.dir / "ca.pem"),
             "network.cert": str(self.dir / "server.pem"), "network.key": str(self.dir / "server.key"),
             "network.crl": str(self.dir / "crl.pem")}
        s.update({f"network.{k}": str(v) for k, v in extra.items()})
        return s


def foreign_client(tmp: Path, name: str, role: str = "reception", expired: bool = False,
                   own_ca: tuple | None = None) -> tuple[Path, Path]:
    """A client certificate from another CA (own_ca None) or an expired one from the reader's CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    now = dt.datetime.now(dt.timezone.utc)
    if own_ca:
        ca_key = serialization.load_pem_private_key(own_ca[0].read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(own_ca[1].read_bytes())
    else:
        ca_key, ca_cert = pki.make_ca("somebody else", now)
    start = now - dt.timedelta(days=30) if expired else None
    key, cert = pki.issue_client(ca_key, ca_cert, name, role, now, days=2 if expired else 30, not_before=start)
    (tmp / f"{name}.key").write_bytes(pki.key_pem(key))
    (tmp / f"{name}.pem").write_bytes(pki.cert_pem(cert))
    return tmp / f"{name}.pem", tmp / f"{name}.key"


def client_context(ca: Path, cert: Path | None, key: Path | None,
                   version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if cert:
        ctx.load_cert_chain(str(cert), str(key))
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    return ctx


class TlsClient:
    def __init__(self, port: int, ctx: ssl.SSLContext, timeout: float = 20):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = b""
        self.next_id = 0

    def read(self) -> dict | None:
        """The next message, or None when the reader closed the connection."""
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except (ssl.SSLError, ConnectionError):
                return None
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method: str, /, **params) -> dict:
        """The whole reply (result or error); events that arrive first are skipped."""
        self.next_id += 1
        self.sock.sendall(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method,
                                      "params": params}).encode() + b"\n")
        while True:
            msg = self.read()
            assert msg is not None, f"the reader closed the connection during {method}"
            if msg.get("id") == self.next_id:
                return msg

    def close(self) -> None:
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
