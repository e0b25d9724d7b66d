"""Where synthesised speech is kept: a bounded in-memory LRU, and optionally a runtime directory (tmpfs under
systemd) so a restarted kiosk server does not synthesise everything again. Keys are hashes of (engine, lang, text);
the text itself is never written. Only text that passed the PIN guard (:mod:`.phrases`) ever reaches here."""
from __future__ import annotations

import collections
import hashlib
import os
import tempfile
from pathlib import Path


def key(identity: str, lang: str, text: str) -> str:
    return hashlib.sha256("\0".join((identity, lang, text)).encode()).hexdigest()


class MemoryCache:
    """Least recently used first out, bounded by total bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self.size = 0

    def get(self, k: str) -> bytes | None:
        data = self._items.get(k)
        if data is not None:
            self._items.move_to_end(k)
        return data

    def put(self, k: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        old = self._items.pop(k, None)
        self.size -= len(old) if old else 0
        self._items[k] = data
        self.size += len(data)
        while self.size > self.max_bytes:
            _, dropped = self._items.popitem(last=False)
            self.size -= len(dropped)

    def __len__(self) -> int:
        return len(self._items)


class DirectoryCache:
    """One file per key (mode 0600) in a directory the caller owns; written atomically, so a reader never sees half."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def get(self, k: str) -> bytes | None:
        try:
            return (self.directory / f"{k}.wav").read_bytes()
        except OSError:
            return None

    def put(self, k: str, data: bytes) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".part")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.directory / f"{k}.wav")
        except OSError:
            pass            # a full or read-only runtime directory: the memory cache still serves
