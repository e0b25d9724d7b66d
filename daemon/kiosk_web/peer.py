"""Who is on the other end of a loopback TCP connection, and may they use the patient screen?

kiosk.sock is 0660 for the group ``mynareader-kiosk`` so that no other local user can type PINs (three wrong ones
lock a card). Serving the page on 127.0.0.1 must not reopen that door: any local user can reach a loopback port,
and can forge the Origin header. So the server asks the kernel which user owns the client's end of the
connection (``/proc/net/tcp`` and ``tcp6`` list every socket with its uid) and serves the WebSocket and voice only
to users in the server's own group (the unit runs it with ``Group=mynareader-kiosk``), to its own user, and to root.
"""
from __future__ import annotations

import grp
import os
import pwd

PROC_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def uid_of(table: str, client_port: int, server_port: int) -> set[int]:
    """The uids of sockets in one /proc/net/tcp* table whose local port is the client's and remote the server's."""
    uids = set()
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
        except (IndexError, ValueError):
            continue
        if local_port == client_port and remote_port == server_port:
            uids.add(int(fields[7]))
    return uids


def peer_uid(client_port: int, server_port: int) -> int | None:
    """The client's uid, or None when it cannot be told (not found, or two users on the same port pair)."""
    uids: set[int] = set()
    for path in PROC_TABLES:
        try:
            with open(path, encoding="ascii") as f:
                uids |= uid_of(f.read(), client_port, server_port)
        except OSError:
            continue
    return uids.pop() if len(uids) == 1 else None


def may_use(uid: int | None, gid: int | None = None) -> bool:
    """Root, this process's user, or a member of ``gid`` (default: this process's group)."""
    if uid is None:
        return False
    if uid in (0, os.getuid()):
        return True
    gid = os.getgid() if gid is None else gid
    try:
        user = pwd.getpwuid(uid)
    except KeyError:
        return False
    if user.pw_gid == gid:
        return True
    try:
        return gid in os.getgrouplist(user.pw_name, user.pw_gid) or user.pw_name in grp.getgrgid(gid).gr_mem
    except KeyError:
        return False
