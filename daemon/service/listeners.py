"""Where the service listens: a Unix socket per role (or the ones systemd passed, socket activation), and the TLS
listener for a reception PC when [network] listen is set."""
from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Sequence

from ..rpc.server import Role, RpcServer

if TYPE_CHECKING:
    from ..rpc.tls import TlsListener

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class UnixSocket:
    """A socket the service binds when systemd did not pass it one."""
    role: Role
    path: str
    mode: int = 0o660
    group: str | None = None


@dataclasses.dataclass(frozen=True)
class Network:
    """The TLS listener (rpc/tls.py) and where it listens."""
    listener: TlsListener
    host: str
    port: int


async def listen(rpc: RpcServer, sockets: Sequence[UnixSocket], network: Network | None,
                 fds: dict) -> TlsListener | None:
    """Serve ``rpc`` on every socket; the TLS listener once it listens, or None. A problem with the TLS files is
    logged and the reader keeps serving its Unix sockets: the patient at the kiosk must not lose the reader over a
    certificate."""
    for sock in sockets:
        if sock.role.value in fds:   # socket activation: systemd owns the mode and group
            await rpc.listen_socket(fds[sock.role.value], sock.role)
        else:
            await rpc.listen_path(sock.path, sock.role, sock.mode, sock.group)
    if network is None:
        return None
    from ..rpc.tls import TlsUnavailable
    try:
        await network.listener.start(network.host, network.port)
    except TlsUnavailable as exc:
        log.error("the network transport is off: %s", exc, extra={"EVENT": "network_unavailable"})
    except OSError as exc:
        log.error("the network transport is off: cannot listen on %s:%d: %s", network.host, network.port,
                  exc.strerror or exc, extra={"EVENT": "network_unavailable"})
    else:
        return network.listener
    return None
