"""The network transport: the same JSON-RPC lines as the Unix sockets, over TCP with mutual TLS.

A client proves who it is with a certificate from the reader's own CA (``mynareader tls issue``); its role is the
one the CA wrote into that certificate, never anything the client says. Each refused connection (wrong CA, expired,
revoked, no certificate, plain TCP, a handshake that does not finish in time) costs one log line and nothing else:
the handshake runs in the connection's own task, and past ``MAX_HANDSHAKES`` at once new ones are dropped at once.
The certificate files and the revocation list are read again whenever they change, so ``mynareader tls revoke``
takes effect from the next connection without a restart, and connections already open with a certificate now
revoked are closed within ``revocation_check`` seconds. The handshake itself is rpc/tls_stream.py's.
"""
from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import os
import ssl

from cryptography import x509

from . import tls_pki
from . import codec, tls_stream
from .errors import NotPermitted, TlsUnavailable
from .server import Role, RpcServer

log = logging.getLogger(__name__)

MAX_HANDSHAKES = 64       # connections between accept and a finished handshake; more are dropped unanswered
# TLS 1.2 only with forward secrecy and AEAD (TLS 1.3 suites are all of that already)
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT or [IPv6]:PORT -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 0.0.0.0:7443, [::]:7443, or \"\" for off)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)
    if not host:
        raise ValueError(f"{value!r} has no address; use 0.0.0.0:{port} for every IPv4 interface")
    return host, int(port)


@dataclasses.dataclass(frozen=True)
class TlsFiles:
    ca: str
    cert: str
    key: str
    crl: str
    min_tls: str = "1.3"
    handshake_timeout: float = 10.0
    revocation_check: float = 5.0     # seconds between looks at the CRL for connections already open


def _stamp(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (path, None)
    return (path, st.st_mtime_ns, st.st_size, st.st_ino)


class TlsListener:
    def __init__(self, rpc: RpcServer, files: TlsFiles):
        self.rpc, self.files = rpc, files
        self._ctx: ssl.SSLContext | None = None
        self._ctx_stamp: tuple | None = None
        self._revoked: frozenset[int] = frozenset()
        self._revoked_stamp: tuple | None = None
        self._handshaking = 0
        self._open: dict[asyncio.StreamWriter, tuple[str, int, str]] = {}   # writer -> name, serial, address
        self._watch: asyncio.Task | None = None
        self.server: asyncio.Server | None = None

    # -- files -----------------------------------------------------------------------------------------
    def context(self) -> ssl.SSLContext:
        """The server context for the files as they are now (rebuilt when one changed)."""
        f = self.files
        stamp = tuple(_stamp(p) for p in (f.ca, f.cert, f.key))
        if self._ctx is not None and stamp == self._ctx_stamp:
            return self._ctx
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3 if f.min_tls == "1.3" else ssl.TLSVersion.TLSv1_2
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_TICKET
        ctx.set_ciphers(TLS12_CIPHERS)
        try:
            ctx.load_cert_chain(f.cert, f.key)
        except FileNotFoundError as exc:
            raise TlsUnavailable(f"{exc.filename} does not exist; run 'mynareader tls init' as root") from None
        except PermissionError as exc:
            raise TlsUnavailable(f"{exc.filename} cannot be read by the service's user; 'mynareader tls init' "
                                 "gives the server key to the mynareader user") from None
        except ssl.SSLError as exc:
            raise TlsUnavailable(f"{f.cert} and {f.key} are not a matching certificate and key ({exc.reason})") \
                from None
        try:
            ctx.load_verify_locations(cafile=f.ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsUnavailable(f"the CA certificate {f.ca} cannot be read "
                                 f"({getattr(exc, 'strerror', None) or exc})") from None
        self._ctx, self._ctx_stamp = ctx, stamp
        return ctx

    def revoked(self) -> frozenset[int]:
        """Serials on the revocation list. Fail closed: an unreadable or foreign list refuses every client."""
        stamp = (_stamp(self.files.crl), _stamp(self.files.ca))
        if stamp == self._revoked_stamp:
            return self._revoked
        try:
            with open(self.files.ca, "rb") as fh:
                ca = x509.load_pem_x509_certificate(fh.read())
            with open(self.files.crl, "rb") as fh:
                serials = frozenset(r.serial for r in tls_pki.revoked_serials(fh.read(), ca))
        except FileNotFoundError as exc:
            raise TlsUnavailable(f"the revocation list {exc.filename} is missing; 'mynareader tls init' makes it") \
                from None
        except (OSError, ValueError) as exc:
            raise TlsUnavailable(f"the revocation list {self.files.crl} cannot be used: {exc}") from None
        self._revoked, self._revoked_stamp = serials, stamp
        return serials

    # -- serving ---------------------------------------------------------------------------------------
    async def start(self, host: str, port: int) -> None:
        self.context()      # a missing or wrong file is said now, not at the first client
        self.revoked()
        self.server = await asyncio.start_server(self._connection, host, port, reuse_address=True)
        self.rpc._servers.append(self.server)
        self._watch = asyncio.create_task(self._cut_revoked())
        bound = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self.server.sockets)
        log.info("network transport listening on %s (TLS %s or later, client certificates required)", bound,
                 self.files.min_tls, extra={"EVENT": "network_listening"})

    @property
    def port(self) -> int:
        if self.server is None:
            raise RuntimeError("the network transport has no port before start()")
        return self.server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        where = f"{peer[0]}:{peer[1]}" if peer else "?"
        if self._handshaking >= MAX_HANDSHAKES:
            log.warning("refused a network client from %s: %d TLS handshakes already under way", where,
                        MAX_HANDSHAKES, extra={"EVENT": "network_refused"})
            writer.transport.abort()
            return
        self._handshaking += 1
        try:
            ctx = self.context()
            revoked = self.revoked()
            reader, writer = await tls_stream.accept(ctx, reader, writer, self.files.handshake_timeout)
        except TlsUnavailable as exc:
            log.error("refused a network client from %s: %s", where, exc, extra={"EVENT": "network_refused"})
            writer.transport.abort()
            return
        except (ssl.SSLError, ConnectionError, OSError, asyncio.TimeoutError) as exc:
            log.warning("refused a network client from %s: %s", where, _why(exc, self.files.handshake_timeout),
                        extra={"EVENT": "network_refused"})
            writer.transport.abort()
            return
        finally:
            self._handshaking -= 1
        ssl_object = writer.get_extra_info("ssl_object")
        cert = ssl_object.getpeercert() if ssl_object else None
        name, serial, role = _describe(cert)
        problem = None
        if serial in revoked:
            problem = f"the certificate {name!r} (serial {serial:x}) has been revoked on this reader"
        elif role is None:
            problem = (f"the certificate {name!r} carries no role; issue client certificates with "
                       "'mynareader tls issue NAME --role reception|kiosk'")
        if problem:
            log.warning("refused a network client from %s: %s", where, problem, extra={"EVENT": "network_refused"})
            writer.write(codec.error(None, NotPermitted(problem)))
            try:
                await asyncio.wait_for(writer.drain(), 1.0)
            except (asyncio.TimeoutError, ConnectionError, OSError):
                pass
            writer.transport.abort()
            return
        log.info("network client %r (%s) from %s: %s", name, role, where, ssl_object.version(),
                 extra={"EVENT": "network_client", "ROLE": role, "TLS": ssl_object.version()})
        self._open[writer] = (name, serial, where)
        try:
            await self.rpc._client(reader, writer, Role(role), remote=f"{name}@{where}")
        finally:
            self._open.pop(writer, None)

    def stop_watching(self) -> None:
        """End the revocation watch with the service (else the loop closes on it mid-sleep)."""
        if self._watch is not None:
            self._watch.cancel()

    async def _cut_revoked(self) -> None:
        """Close open connections whose certificate has since been revoked. A list that cannot be read now keeps
        the open ones (a half-written file must not cut every reception PC off) and refuses new ones."""
        while self.server is not None and self.server.is_serving():
            await asyncio.sleep(self.files.revocation_check)
            try:
                revoked = self.revoked()
            except TlsUnavailable:
                continue
            for writer, (name, serial, where) in list(self._open.items()):
                if serial in revoked:
                    del self._open[writer]
                    problem = f"the certificate {name!r} (serial {serial:x}) has been revoked on this reader"
                    log.warning("closed network client from %s: %s", where, problem,
                                extra={"EVENT": "network_revoked"})
                    writer.write(codec.error(None, NotPermitted(problem)))
                    writer.close()


def _describe(cert: dict | None) -> tuple[str, int, str | None]:
    """(common name, serial, role) of a verified peer certificate as ssl reports it."""
    if not cert:
        return "?", -1, None
    name = next((v for rdn in cert.get("subject", ()) for k, v in rdn if k == "commonName"), "?")
    serial = int(cert.get("serialNumber", "-1"), 16) if cert.get("serialNumber") else -1
    uris = [v for k, v in cert.get("subjectAltName", ()) if k == "URI"]
    return name, serial, tls_pki.role_from_uris(uris)


def _why(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, (asyncio.TimeoutError, ConnectionAbortedError)) and "handshake" in str(exc).lower() \
            or isinstance(exc, asyncio.TimeoutError):
        return f"the TLS handshake did not finish within {timeout:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        # OpenSSL's X509_V_ERR_* codes, said as what the clinic should do
        advice = {2: "it is not from this reader's CA", 18: "it is not from this reader's CA",
                  19: "it is not from this reader's CA", 20: "it is not from this reader's CA",
                  9: "it is not valid yet (check the clocks)", 10: "it has expired; issue a new one",
                  26: "it is not a client certificate; use one from 'mynareader tls issue'"}.get(exc.verify_code)
        return f"its certificate was not accepted: {advice + ' - ' if advice else ''}{exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        hints = {"WRONG_VERSION_NUMBER": "it did not speak TLS (plain TCP?)",
                 "HTTP_REQUEST": "it spoke plain HTTP, not TLS",
                 "PEER_DID_NOT_RETURN_A_CERTIFICATE": "it sent no client certificate",
                 "UNSUPPORTED_PROTOCOL": "it offered an older TLS version than network.min_tls allows",
                 "NO_SHARED_CIPHER": "it offered no cipher this reader accepts",
                 "TLSV1_ALERT_UNKNOWN_CA": "it does not trust this reader's CA (give it ca.pem)"}
        return hints.get(reason, f"TLS error {reason}")
    return f"the connection failed during the TLS handshake ({exc.__class__.__name__}: {exc})"
