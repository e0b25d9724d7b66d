"""Rules that outlive a session: per-card failure counters and lockouts, reader-wide rate limits, an audit trail.

SQLite with a rollback journal and synchronous=FULL, under the state directory: a write is in the main database
file when it returns (in WAL mode a lock could live only in the -wal file, which a backup of the database alone
loses). Cards and phones are keyed by a salted hash of the certificate's issuer and serial (the salt is made once,
beside the database; records of a store from before the issuer was part of the key move to it when the card is
next read, ``token_key``); nothing personal is stored.

A store that is missing, unreadable or corrupt is an error to report, never silently recreated: recreating it
would lift every lockout. A first start is told apart from a lost store by the marker, a file kept outside the
state directory (``[state] marker``) that records the fingerprint of the store's salt when the store is made. A
marker without its store is a lost store; the way back is the deliberate ``mynareader store recover``.
"""
from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path
from .errors import StoreError

log = logging.getLogger(__name__)

# The store is shared by both system slots (docs/image.md, A/B updates): after a rollback the previous release
# opens the store the newer one left, so user_version is the oldest schema a release must know to use the file.
# A change a release before can live with (a new table; a new column with a default, which every INSERT here
# tolerates by naming its columns) keeps user_version, and its release creates what is missing at each start;
# only a change the release before could not live with raises it, and that release then refuses the store in
# words rather than misreading it (and must not run on it: such a release migrates only once it is committed).
SCHEMA_VERSION = 2
RESULT_KEEP_SECONDS = 600   # a result stays retrievable this long (a client reconnecting, a restart), then goes
STORE_LOCK_WAIT = 2.0       # seconds SQLite waits for another process's lock before a write fails
DB_NAME = "state.sqlite3"
SALT_NAME = "card-key.salt"
SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE failures (card TEXT NOT NULL, kind TEXT NOT NULL, session TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX failures_card ON failures(card, kind, at);
CREATE INDEX failures_at ON failures(at);
CREATE TABLE face_lifts (card TEXT NOT NULL, staff TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE audit (at REAL NOT NULL, session TEXT, event TEXT NOT NULL, detail TEXT NOT NULL);
""" + "CREATE TABLE results (session TEXT PRIMARY KEY, at REAL NOT NULL, result TEXT NOT NULL);\n"
# what each older schema needs to reach this one (applied only after the file passed its checks)
_MIGRATIONS = {1: "CREATE TABLE results (session TEXT PRIMARY KEY, at REAL NOT NULL, result TEXT NOT NULL);"}


def fingerprint(salt: bytes) -> str:
    return hashlib.sha256(b"mynareader store " + salt).hexdigest()[:32]


class Store:
    def __init__(self, directory: str | Path, marker: str | Path | None = None):
        self.dir = Path(directory)
        self.marker = Path(marker) if marker else None
        db, salt = self.dir / DB_NAME, self.dir / SALT_NAME
        try:
            recorded = self._marker_fingerprint()
            if not db.exists() and not salt.exists():
                if recorded is not None:
                    raise StoreError(f"the state store in {self.dir} is gone, but {self.marker} says this reader "
                                     f"made one: refusing to start afresh (that would lift every lockout); to "
                                     f"start a new store on purpose run 'mynareader store recover'")
                self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._create(db, salt)
            elif not db.exists() or not salt.exists():
                missing = DB_NAME if not db.exists() else SALT_NAME
                raise StoreError(f"{missing} is missing from {self.dir}; refusing to start afresh "
                                 f"(that would lift lockouts)")
            self.salt = salt.read_bytes()
            if len(self.salt) != 32:
                raise StoreError(f"{salt} is damaged")
            if recorded is not None and recorded != fingerprint(self.salt):
                raise StoreError(f"the state store in {self.dir} is not the one {self.marker} records (replaced or "
                                 f"restored from another reader?); to adopt it on purpose run "
                                 f"'mynareader store recover --adopt'")
            self._check_header(db)
            self.db = sqlite3.connect(db, isolation_level=None, check_same_thread=False, timeout=STORE_LOCK_WAIT)
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{db} failed its integrity check: {check}")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{db} has schema {version}, made by a later release of mynareader than this one "
                                 f"(which reads schema {SCHEMA_VERSION} or older): start that release again (the "
                                 f"other system slot: 'rauc status'); the store was left as it was")
            if version != SCHEMA_VERSION and version not in _MIGRATIONS:
                raise StoreError(f"{db} has schema {version}, which this release cannot bring up to date (it "
                                 f"reads schema {SCHEMA_VERSION}); the store was left as it was")
            # only now, checked, may the file be written to (the journal mode lives in its header)
            self.db.execute("PRAGMA journal_mode=DELETE")
            self.db.execute("PRAGMA synchronous=FULL")
            while version != SCHEMA_VERSION:
                self.db.executescript(f"BEGIN; {_MIGRATIONS[version]} PRAGMA user_version={version + 1}; COMMIT;")
                version += 1
            if recorded is None:
                self._write_marker(required=False)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db} cannot be read: {exc}") from None
        except OSError as exc:
            raise StoreError(f"the state directory {self.dir} cannot be used: {exc}") from None

    def _marker_fingerprint(self) -> str | None:
        if self.marker is None or not self.marker.exists():
            return None
        text = self.marker.read_text(encoding="ascii", errors="replace").strip()
        if len(text) != 32:
            raise StoreError(f"the store marker {self.marker} is damaged; run 'mynareader store recover --adopt' "
                             f"if the state store is the right one")
        return text

    def _write_marker(self, required: bool) -> None:
        """Record this store's fingerprint outside the state directory. A store adopted without a marker keeps
        working when the marker cannot be written (a warning); a new store may not go without one."""
        if self.marker is None:
            return
        try:
            self.marker.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.marker.with_name(self.marker.name + ".tmp")
            tmp.write_text(fingerprint(self.salt) + "\n", encoding="ascii")
            os.replace(tmp, self.marker)
        except OSError as exc:
            if required:
                raise
            log.warning("the store marker %s cannot be written (%s): a lost store could not be told apart from "
                        "a first start; run 'mynareader store init' as root", self.marker, exc.strerror or exc)

    @staticmethod
    def _check_header(db: Path) -> None:
        """SQLite would quietly turn an empty or foreign file into a new database: look before it touches it."""
        with open(db, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
        if head != SQLITE_HEADER:
            what = "empty" if not head else "not an SQLite database"
            raise StoreError(f"{db} is {what}; refusing to start afresh (that would lift lockouts)")

    @staticmethod
    def _create(db: Path, salt: Path) -> None:
        tmp = salt.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(secrets.token_bytes(32))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        conn = sqlite3.connect(db, isolation_level=None)
        conn.executescript(_SCHEMA + f"PRAGMA user_version={SCHEMA_VERSION};")
        conn.close()
        os.replace(tmp, salt)

    @classmethod
    def recover(cls, directory: str | Path, marker: str | Path | None, adopt: bool, at: float) -> "Store":
        """The deliberate way back: adopt the store that is there (rewrite the marker), or set the damaged or
        missing store aside (renamed, never deleted) and start a new one, which lifts every lockout."""
        d = Path(directory)
        if not adopt:
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(at))
            for name in (DB_NAME, SALT_NAME, DB_NAME + "-journal", DB_NAME + "-wal", DB_NAME + "-shm"):
                if (d / name).exists():
                    os.replace(d / name, d / f"{name}.set-aside-{stamp}")
        if marker and Path(marker).exists():
            Path(marker).unlink()
        store = cls(d, marker)
        store._write_marker(required=True)
        store.audit(at, None, "store_recovered", adopted=adopt)
        return store

    def close(self) -> None:
        self.db.close()

    failure: str | None = None      # the last runtime failure, until a later read or write succeeds (status)

    def _write(self, sql: str, args: tuple) -> None:
        try:
            self.db.execute(sql, args)
        except sqlite3.DatabaseError as exc:
            self.failure = f"writing the state store failed: {self._disk_trouble() or exc}"
            raise StoreError(self.failure) from None
        self.failure = None

    def _disk_trouble(self) -> str | None:
        """What staff can act on when a write fails because of the disk rather than the database."""
        probe = self.dir / ".write-probe"
        try:
            fs = os.statvfs(self.dir)
            full = fs.f_bavail * fs.f_frsize < 64 * 1024
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT, 0o600))
            probe.unlink()
        except OSError as exc:      # ext4 turned read-only after an error does not say so in statvfs: try
            if exc.errno == errno.EROFS:
                return (f"the filesystem holding {self.dir} has become read-only (a failing SD card or disk?); "
                        f"identity checks are paused until it is repaired (fsck) and the reader restarted")
            full = exc.errno == errno.ENOSPC
        if full:
            return (f"the disk holding {self.dir} is full; identity checks are paused and resume by themselves "
                    f"once space is freed")
        return None

    def _read(self, sql: str, args: tuple) -> list[tuple]:
        try:
            rows = self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            self.failure = f"reading the state store failed: {exc}"
            raise StoreError(self.failure) from None
        self.failure = None
        return rows

    # -- identities ---------------------------------------------------------------------------------
    def token_key(self, issuer: str, serial: int | str, adopt_legacy: bool = False) -> str:
        """A salted hash of the certificate's issuer and serial: stable per card or phone on this reader, useless
        elsewhere. Both go in, because two CAs (a card's, a phone's) can issue the same serial.

        ``adopt_legacy`` (a card's certificate): the records a store made before keys took the issuer (the
        serial alone, :meth:`legacy_card_key`) move to this key, in one transaction, so no lockout is lost.
        Only cards had records then (phones were turned away), so a phone never adopts."""
        ident = format(serial, "x") if isinstance(serial, int) else serial
        key = hashlib.sha256(self.salt + b"token\0" + issuer.encode() + b"\0" + ident.encode()).hexdigest()[:32]
        if adopt_legacy and isinstance(serial, int):
            self._adopt(self.legacy_card_key(serial), key)
        return key

    def legacy_card_key(self, serial: int) -> str:
        """The key of stores before issue 24: a salted hash of the serial alone."""
        return hashlib.sha256(self.salt + format(serial, "x").encode()).hexdigest()[:32]

    def _adopt(self, legacy: str, key: str) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                moved = self.db.execute("UPDATE failures SET card=? WHERE card=?", (key, legacy)).rowcount
                moved += self.db.execute("UPDATE face_lifts SET card=? WHERE card=?", (key, legacy)).rowcount
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            self.failure = f"writing the state store failed: {exc}"
            raise StoreError(self.failure) from None
        self.failure = None
        if moved:
            log.info("moved %d records of a card to its issuer-and-serial key", moved,
                     extra={"EVENT": "card_key_adopted"})

    # -- counters ----------------------------------------------------------------------------------
    def record_failure(self, card: str, kind: str, session: str, at: float) -> None:
        """kind: "face" (a failed face session), "pin" (a wrong PIN), "code_b" (a wrong 照合番号B; a store from
        before the name was unified says "kenmen")."""
        self._write("INSERT INTO failures (card, kind, session, at) VALUES (?,?,?,?)", (card, kind, session, at))

    def failures(self, card: str, kind: str, since: float) -> int:
        return self._read("SELECT COUNT(*) FROM failures WHERE card=? AND kind=? AND at>=?", (card, kind, since))[0][0]

    def face_locked(self, card: str, sessions: int, since: float) -> bool:
        """Face is refused when ``sessions`` failed face sessions happened since ``since`` and since the last lift."""
        lifted = self._read("SELECT MAX(at) FROM face_lifts WHERE card=?", (card,))[0][0] or 0.0
        return self.failures(card, "face", max(since, lifted)) >= sessions

    def lift_face_lock(self, card: str, staff: str, at: float) -> None:
        self._write("INSERT INTO face_lifts (card, staff, at) VALUES (?,?,?)", (card, staff, at))

    def cards_failing_since(self, since: float) -> tuple[int, float | None]:
        """How many different cards failed an identity check since ``since``, and when the last failure was."""
        count, last = self._read("SELECT COUNT(DISTINCT card), MAX(at) FROM failures WHERE at>=?", (since,))[0]
        return count, last

    # -- audit -----------------------------------------------------------------------------------------
    def audit(self, at: float, session: str | None, event: str, **detail) -> None:
        """An event without personal data: callers pass outcomes, methods, counts and hashed card keys only."""
        self._write("INSERT INTO audit (at, session, event, detail) VALUES (?,?,?,?)",
                    (at, session, event, json.dumps(detail, sort_keys=True)))

    def audit_events(self, session: str | None = None) -> list[tuple[str, dict]]:
        rows = self._read("SELECT event, detail FROM audit WHERE (? IS NULL OR session=?) ORDER BY rowid",
                          (session, session))
        return [(event, json.loads(detail)) for event, detail in rows]

    # -- results, kept briefly ---------------------------------------------------------------------------
    def keep_result(self, session: str, result: dict, at: float) -> None:
        """A result for RESULT_KEEP_SECONDS, so a client that missed it (disconnected, or the reader restarted)
        can fetch it; older ones are deleted on every write and never returned."""
        self._write("DELETE FROM results WHERE at < ?", (at - RESULT_KEEP_SECONDS,))
        self._write("INSERT OR REPLACE INTO results (session, at, result) VALUES (?,?,?)",
                    (session, at, json.dumps(result)))

    def kept_result(self, session: str | None, now: float) -> dict | None:
        """The result of ``session`` (None: the latest) if it is still kept."""
        rows = self._read("SELECT result FROM results WHERE at >= ? AND (? IS NULL OR session = ?) "
                          "ORDER BY at DESC LIMIT 1", (now - RESULT_KEEP_SECONDS, session, session))
        return json.loads(rows[0][0]) if rows else None
