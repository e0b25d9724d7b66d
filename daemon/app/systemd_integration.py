"""systemd integration in plain stdlib: sd_notify, the watchdog, socket activation, journald logging.

systemd-python's journal handler is used when importable (structured fields such as SESSION_ID, EVENT,
METHOD, OUTCOME); otherwise records go to stderr as one line each with key=value fields.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import sys

SD_LISTEN_FDS_START = 3
_FIELDS = ("SESSION_ID", "EVENT", "METHOD", "OUTCOME", "ROLE", "PEER_UID")


def notify(**fields: str | int) -> bool:
    """Send READY=1, STATUS=..., WATCHDOG=1, STOPPING=1 ... to systemd; False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]   # abstract namespace
    message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.sendto(message, address)
        except OSError:
            return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of WatchdogSec), or None when no watchdog is asked for us."""
    usec, pid = os.environ.get("WATCHDOG_USEC"), os.environ.get("WATCHDOG_PID")
    if not usec or (pid and int(pid) != os.getpid()):
        return None
    return int(usec) / 1e6 / 2


def listen_fds(unset: bool = True) -> dict[str, socket.socket]:
    """Sockets passed by socket activation, by FileDescriptorName (fd 3 onwards)."""
    count, pid = os.environ.get("LISTEN_FDS"), os.environ.get("LISTEN_PID")
    if not count or (pid and int(pid) != os.getpid()):
        return {}
    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
    out = {}
    for i in range(int(count)):
        fd = SD_LISTEN_FDS_START + i
        name = names[i] if i < len(names) and names[i] else f"fd{fd}"
        out[name] = socket.socket(fileno=fd)
    if unset:
        for key in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"):
            os.environ.pop(key, None)
    return out


class PrivacyFilter(logging.Filter):
    """Defence in depth: drops any record whose text holds a 12-digit run (the individual number's shape)."""

    _TWELVE = re.compile(r"(?<!\d)\d{12}(?!\d)")

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        if self._TWELVE.search(text):
            record.msg, record.args = "<a log line was dropped: it looked like personal data>", ()
        return True


class _KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={getattr(record, k)}" for k in _FIELDS if getattr(record, k, None) is not None)
        line = f"{record.levelname} {record.name}: {record.getMessage()}" + (f" [{fields}]" if fields else "")
        if record.exc_info:      # the traceback is what a developer needs from the log; users never see it
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(level: str = "info") -> str:
    """Log to journald when systemd-python is there and we run under systemd, else to stderr. Returns which."""
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(level.upper())
    handler: logging.Handler
    target = "stderr"
    if os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"):
        try:
            from systemd.journal import JournalHandler  # type: ignore
            handler = JournalHandler(SYSLOG_IDENTIFIER="mynareader")
            target = "journald"
        except ImportError:
            handler = logging.StreamHandler(sys.stderr)
    else:
        handler = logging.StreamHandler(sys.stderr)
    if target == "stderr":
        handler.setFormatter(_KeyValueFormatter())
    handler.addFilter(PrivacyFilter())
    root.addHandler(handler)
    return target
