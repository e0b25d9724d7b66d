"""TLS over an accepted TCP stream, driven by hand through memory BIOs.

Why not ``StreamWriter.start_tls``: asyncio drops a failed handshake's alert (it closes the socket before sending
what OpenSSL wrote), so a refused client saw a bare close where docs/protocol.md promises an alert; and bytes that
arrive between accept and ``start_tls`` land in the plain reader where the TLS layer never sees them. Here the
handshake reads from the accepted stream itself (whatever it has buffered included), every alert is flushed before
the close, and the result is an ordinary ``StreamReader``/``StreamWriter`` pair for the RPC server.
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Any

CHUNK = 65536


class TlsTransport(asyncio.Transport):
    """The application's side of one TLS connection: writes are encrypted onto the TCP transport underneath."""

    def __init__(self, tls: ssl.SSLObject, outgoing: ssl.MemoryBIO, raw: asyncio.WriteTransport):
        super().__init__()
        self._info = {"ssl_object": tls, "peercert": tls.getpeercert(), "cipher": tls.cipher()}
        self._tls, self._out, self._raw = tls, outgoing, raw
        self.pump: asyncio.Task | None = None      # the decrypting task, alive as long as this connection

    def flush(self) -> None:
        """Send what the TLS layer has written (records, alerts, key updates)."""
        data = self._out.read()
        if data and not self._raw.is_closing():
            self._raw.write(data)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._raw.is_closing():
            return
        self._tls.write(data)
        self.flush()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in self._info:
            return self._info[name]
        return self._raw.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def is_closing(self) -> bool:
        return self._raw.is_closing()

    def close(self) -> None:
        """close_notify, what is queued, then the socket."""
        if self._raw.is_closing():
            return
        try:
            self._tls.unwrap()
        except (ssl.SSLError, ValueError):
            pass                # the peer's close_notify is not awaited: a TLS 1.3 half-close is enough
        self.flush()
        self._raw.close()

    def abort(self) -> None:
        self._raw.abort()


async def accept(ctx: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The server side of a handshake on an accepted connection; the application's reader and writer.

    Raises ``ssl.SSLError`` (after the alert is sent), ``asyncio.TimeoutError``, or ``ConnectionError`` for a peer
    that went away; the caller closes the TCP connection."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_side=True)

    def send() -> None:
        data = outgoing.read()
        if data and not writer.is_closing():
            writer.write(data)

    async def handshake() -> None:
        while True:
            try:
                tls.do_handshake()
                send()
                return
            except ssl.SSLWantReadError:
                send()
                data = await reader.read(CHUNK)
                if not data:
                    raise ConnectionResetError("the client closed the connection during the TLS handshake")
                incoming.write(data)
            except ssl.SSLError:
                send()                          # the alert that says why
                await _drain_briefly(writer)
                raise

    await asyncio.wait_for(handshake(), timeout)
    transport = TlsTransport(tls, outgoing, writer.transport)
    app_reader = asyncio.StreamReader(limit=2 ** 20)
    # drain() waits on the TCP protocol, which the socket pauses and resumes: back-pressure stays real
    app_writer = asyncio.StreamWriter(transport, writer._protocol, app_reader,  # type: ignore[attr-defined]
                                      asyncio.get_running_loop())
    transport.pump = asyncio.create_task(_decrypt(tls, incoming, reader, app_reader, transport))
    return app_reader, app_writer


async def _decrypt(tls: ssl.SSLObject, incoming: ssl.MemoryBIO, raw: asyncio.StreamReader,
                   app: asyncio.StreamReader, transport: TlsTransport) -> None:
    """Bytes from the socket -> plaintext for the application, until either side ends."""
    try:
        while True:
            while True:             # what the BIO already holds first (data that came with the handshake)
                try:
                    plain = tls.read(CHUNK)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:      # close_notify
                    return
                if not plain:
                    return
                app.feed_data(plain)
            transport.flush()       # e.g. an answer to a key update
            data = await raw.read(CHUNK)
            if not data:
                return
            incoming.write(data)
    except (ssl.SSLError, ConnectionError, OSError) as exc:
        app.set_exception(ConnectionResetError(f"the TLS connection failed: {exc}"))
        transport.flush()
        transport.abort()
    finally:
        if app.exception() is None:
            app.feed_eof()


async def _drain_briefly(writer: asyncio.StreamWriter) -> None:
    try:
        await asyncio.wait_for(writer.drain(), 1.0)
    except (asyncio.TimeoutError, ConnectionError, OSError):
        pass
