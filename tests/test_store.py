"""The store fails closed, keeps lockouts across restarts and never holds a card serial."""
import sqlite3

import pytest

from mynareader.daemon.store import DB_NAME, SALT_NAME, Store, StoreError


def test_lockout_survives_reopening(tmp_path):
    s = Store(tmp_path)
    key = s.card_key(0xABCDEF)
    for i in range(3):
        s.record_failure(key, "face", f"s{i}", 100.0 + i)
    assert s.face_locked(key, 3, since=0)
    s.close()
    again = Store(tmp_path)
    assert again.card_key(0xABCDEF) == key
    assert again.face_locked(key, 3, since=0)
    again.lift_face_lock(key, "staff", 200.0)
    assert not again.face_locked(key, 3, since=0)
    again.close()


def test_card_keys_are_salted_per_reader(tmp_path):
    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    assert a.card_key(42) != b.card_key(42)
    assert len(a.card_key(42)) == 32 and a.card_key(42) == a.card_key(42)
    a.record_failure(a.card_key(0x6F0548A4C7452F69), "pin", "s", 1.0)
    a.audit(1.0, "s", "card_read", card=a.card_key(0x6F0548A4C7452F69))
    a.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "a").iterdir())
    assert b"6f0548a4c7452f69" not in raw.lower() and b"6F0548A4C7452F69" not in raw


def test_corrupt_database_is_reported_not_recreated(tmp_path):
    Store(tmp_path).close()
    db = tmp_path / DB_NAME
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store(tmp_path)
    assert db.read_bytes().startswith(b"this is not sqlite")       # left as found, for staff to inspect


@pytest.mark.parametrize("missing", [DB_NAME, SALT_NAME])
def test_missing_half_of_the_store_is_an_error(tmp_path, missing):
    Store(tmp_path).close()
    (tmp_path / missing).unlink()
    with pytest.raises(StoreError, match="refusing to start afresh"):
        Store(tmp_path)


def test_wal_and_full_sync(tmp_path):
    s = Store(tmp_path)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2       # FULL
    s.close()


def test_reader_wide_failures_count_distinct_cards(tmp_path):
    s = Store(tmp_path)
    for card in ("a", "b", "b", "c"):
        s.record_failure(card, "pin", "s", 50.0)
    assert s.cards_failing_since(0) == (3, 50.0)
    assert s.cards_failing_since(60) == (0, None)
    s.close()


def test_unreadable_schema_version_is_an_error(tmp_path):
    Store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StoreError, match="schema 99"):
        Store(tmp_path)
