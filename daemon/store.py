"""Rules that outlive a session: per-card failure counters and lockouts, reader-wide rate limits, an audit trail.

SQLite in WAL mode with synchronous=FULL, under the state directory. Cards are keyed by a salted hash of the
certificate serial (the salt is made once, beside the database); nothing personal is stored.
A store that is missing, unreadable or corrupt is an error to report, never silently recreated: recreating it
would lift every lockout. The reader then refuses identity checks until staff fix it.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1
DB_NAME = "state.sqlite3"
SALT_NAME = "card-key.salt"

_SCHEMA = """
CREATE TABLE failures (card TEXT NOT NULL, kind TEXT NOT NULL, session TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX failures_card ON failures(card, kind, at);
CREATE INDEX failures_at ON failures(at);
CREATE TABLE face_lifts (card TEXT NOT NULL, staff TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE audit (at REAL NOT NULL, session TEXT, event TEXT NOT NULL, detail TEXT NOT NULL);
"""


class StoreError(Exception):
    """The store cannot be trusted; identity checks must stop until staff repair it."""

    advice = ("The reader's state store cannot be read. Identity checks are paused so no card lock is lifted "
              "by mistake; ask your IT contact to check the state directory.")


class Store:
    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        db, salt = self.dir / DB_NAME, self.dir / SALT_NAME
        try:
            if not db.exists() and not salt.exists():
                self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._create(db, salt)
            elif not db.exists() or not salt.exists():
                missing = DB_NAME if not db.exists() else SALT_NAME
                raise StoreError(f"{missing} is missing from {self.dir}; refusing to start afresh "
                                 f"(that would lift lockouts)")
            self.salt = salt.read_bytes()
            if len(self.salt) != 32:
                raise StoreError(f"{salt} is damaged")
            self.db = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            check = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise StoreError(f"{db} failed its integrity check: {check}")
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise StoreError(f"{db} has schema {version}, this reader expects {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db} cannot be read: {exc}") from None
        except OSError as exc:
            raise StoreError(f"the state directory {self.dir} cannot be used: {exc}") from None

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

    def close(self) -> None:
        self.db.close()

    def _write(self, sql: str, args: tuple) -> None:
        try:
            self.db.execute(sql, args)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"writing the state store failed: {exc}") from None

    def _read(self, sql: str, args: tuple) -> list[tuple]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"reading the state store failed: {exc}") from None

    # -- identities ---------------------------------------------------------------------------------
    def card_key(self, serial: int) -> str:
        """A salted hash of the certificate serial: stable per card on this reader, useless elsewhere."""
        return hashlib.sha256(self.salt + format(serial, "x").encode()).hexdigest()[:32]

    # -- counters ----------------------------------------------------------------------------------
    def record_failure(self, card: str, kind: str, session: str, at: float) -> None:
        """kind: "face" (a failed face session), "pin" (a wrong PIN), "kenmen" (a wrong 照合番号B)."""
        self._write("INSERT INTO failures VALUES (?,?,?,?)", (card, kind, session, at))

    def failures(self, card: str, kind: str, since: float) -> int:
        return self._read("SELECT COUNT(*) FROM failures WHERE card=? AND kind=? AND at>=?", (card, kind, since))[0][0]

    def face_locked(self, card: str, sessions: int, since: float) -> bool:
        """Face is refused when ``sessions`` failed face sessions happened since ``since`` and since the last lift."""
        lifted = self._read("SELECT MAX(at) FROM face_lifts WHERE card=?", (card,))[0][0] or 0.0
        return self.failures(card, "face", max(since, lifted)) >= sessions

    def lift_face_lock(self, card: str, staff: str, at: float) -> None:
        self._write("INSERT INTO face_lifts VALUES (?,?,?)", (card, staff, at))

    def cards_failing_since(self, since: float) -> tuple[int, float | None]:
        """How many different cards failed an identity check since ``since``, and when the last failure was."""
        count, last = self._read("SELECT COUNT(DISTINCT card), MAX(at) FROM failures WHERE at>=?", (since,))[0]
        return count, last

    # -- audit -----------------------------------------------------------------------------------------
    def audit(self, at: float, session: str | None, event: str, **detail) -> None:
        """An event without personal data: callers pass outcomes, methods, counts and hashed card keys only."""
        self._write("INSERT INTO audit VALUES (?,?,?,?)", (at, session, event, json.dumps(detail, sort_keys=True)))

    def audit_events(self, session: str | None = None) -> list[tuple[str, dict]]:
        rows = self._read("SELECT event, detail FROM audit WHERE (? IS NULL OR session=?) ORDER BY rowid",
                          (session, session))
        return [(event, json.loads(detail)) for event, detail in rows]
