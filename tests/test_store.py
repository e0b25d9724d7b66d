"""The store fails closed, keeps lockouts across restarts and never holds a card serial."""
import sqlite3

import pytest

from mynareader.daemon.store import DB_NAME, SALT_NAME, Store, StoreError


def test_lockout_survives_reopening(tmp_path):
    s = Store(tmp_path)
    key = s.legacy_card_key(0xABCDEF)
    for i in range(3):
        s.record_failure(key, "face", f"s{i}", 100.0 + i)
    assert s.face_locked(key, 3, since=0)
    s.close()
    again = Store(tmp_path)
    assert again.legacy_card_key(0xABCDEF) == key
    assert again.face_locked(key, 3, since=0)
    again.lift_face_lock(key, "staff", 200.0)
    assert not again.face_locked(key, 3, since=0)
    again.close()


def test_card_keys_are_salted_per_reader(tmp_path):
    a, b = Store(tmp_path / "a"), Store(tmp_path / "b")
    assert a.legacy_card_key(42) != b.legacy_card_key(42)
    assert len(a.legacy_card_key(42)) == 32 and a.legacy_card_key(42) == a.legacy_card_key(42)
    a.record_failure(a.legacy_card_key(0x6F0548A4C7452F69), "pin", "s", 1.0)
    a.audit(1.0, "s", "card_read", card=a.legacy_card_key(0x6F0548A4C7452F69))
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


def test_rollback_journal_and_full_sync(tmp_path):
    s = Store(tmp_path)
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2       # FULL
    s.close()


def test_reader_wide_failures_count_distinct_cards(tmp_path):
    s = Store(tmp_path)
    for card in ("a", "b", "b", "c"):
        s.record_failure(card, "pin", "s", 50.0)
    assert s.cards_failing_since(0) == (3, 50.0)
    assert s.cards_failing_since(60) == (0, None)
    s.close()


def test_a_store_a_later_release_could_not_share_is_refused_and_left_alone(tmp_path):
    Store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    before = (tmp_path / DB_NAME).read_bytes()
    with pytest.raises(StoreError, match="schema 99, made by a later release.*start that release again"):
        Store(tmp_path)
    assert (tmp_path / DB_NAME).read_bytes() == before


def test_a_store_a_later_release_added_to_is_used_after_a_rollback(tmp_path):
    """A later release added a table and a column with a default, keeping user_version (the additive rule in
    daemon/store.py); this release, started again on the other slot, keeps counting on the same rows."""
    s = Store(tmp_path)
    s.record_failure("card", "face", "s1", 10.0)
    s.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript("CREATE TABLE visits (card TEXT, at REAL); INSERT INTO visits VALUES ('card', 11.0);"
                       "ALTER TABLE failures ADD COLUMN reason TEXT NOT NULL DEFAULT 'unknown';"
                       "INSERT INTO failures VALUES ('card', 'face', 's2', 12.0, 'camera');")
    conn.close()
    s = Store(tmp_path)
    s.record_failure("card", "face", "s3", 13.0)
    assert s.failures("card", "face", since=0) == 3
    assert s.face_locked("card", 3, since=0)
    s.lift_face_lock("card", "staff", 14.0)
    s.audit(15.0, "s3", "identity_failed", kind="face")
    s.keep_result("s3", {"session_id": "s3"}, 15.0)
    assert s.db.execute("SELECT reason FROM failures ORDER BY at").fetchall() == [("unknown",), ("camera",),
                                                                                    ("unknown",)]
    assert s.db.execute("SELECT * FROM visits").fetchall() == [("card", 11.0)]
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == 2
    s.close()


def _marker(tmp_path):
    return tmp_path / "state.store-id"


def test_an_emptied_state_directory_is_a_lost_store_not_a_first_start(tmp_path):
    d, marker = tmp_path / "state", _marker(tmp_path)
    s = Store(d, marker)
    key = s.legacy_card_key(7)
    for i in range(3):
        s.record_failure(key, "face", f"s{i}", 100.0 + i)
    s.close()
    assert marker.exists()
    for f in d.iterdir():
        f.unlink()
    with pytest.raises(StoreError, match="store recover"):
        Store(d, marker)
    assert list(d.iterdir()) == []                 # nothing was made in its place


def test_recover_is_deliberate_and_sets_the_old_files_aside(tmp_path):
    d, marker = tmp_path / "state", _marker(tmp_path)
    Store(d, marker).close()
    (d / DB_NAME).write_bytes(b"")                 # damaged
    with pytest.raises(StoreError):
        Store(d, marker)
    fresh = Store.recover(d, marker, adopt=False, at=1000.0)
    assert ("store_recovered", {"adopted": False}) in fresh.audit_events()
    fresh.close()
    assert sorted(p.name.split(".set-aside-")[0] for p in d.glob("*.set-aside-*")) == [SALT_NAME, DB_NAME]
    Store(d, marker).close()                       # and the new store opens from now on


def test_a_store_from_elsewhere_is_refused_until_adopted(tmp_path):
    d, marker = tmp_path / "state", _marker(tmp_path)
    Store(d, marker).close()
    other = tmp_path / "other"
    Store(other).close()
    for name in (DB_NAME, SALT_NAME):
        (d / name).write_bytes((other / name).read_bytes())
    with pytest.raises(StoreError, match="adopt"):
        Store(d, marker)
    Store.recover(d, marker, adopt=True, at=5.0).close()
    Store(d, marker).close()


def test_a_written_lock_is_in_the_database_file_itself(tmp_path):
    """A backup that copies state.sqlite3 alone (no journal, no -wal) keeps every lock written before it."""
    d = tmp_path / "state"
    s = Store(d)
    key = s.legacy_card_key(99)
    for i in range(3):
        s.record_failure(key, "face", f"s{i}", 10.0 + i)
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (DB_NAME, SALT_NAME):              # copied while the store is still open
        (copy / name).write_bytes((d / name).read_bytes())
    s.close()
    assert not list(copy.glob("*-wal"))
    again = Store(copy)
    assert again.face_locked(key, 3, since=0)
    again.close()


def test_an_empty_database_file_is_refused_and_left_untouched(tmp_path):
    d = tmp_path / "state"
    Store(d).close()
    (d / DB_NAME).write_bytes(b"")
    with pytest.raises(StoreError, match="empty"):
        Store(d)
    assert (d / DB_NAME).stat().st_size == 0


def test_recover_command_asks_before_it_lifts_lockouts(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    exe = str(Path(sys.executable).with_name("mynareader"))
    d = tmp_path / "state"
    Store(d, _marker(tmp_path)).close()
    for f in d.iterdir():
        f.unlink()
    args = [exe, "store", "recover", "--set", f"state.directory={d}"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "--yes" in out.stderr and not any(d.iterdir())
    out = subprocess.run(args + ["--yes"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    Store(d, _marker(tmp_path)).close()


def test_results_are_kept_ten_minutes_then_gone(tmp_path):
    from mynareader.daemon.store import RESULT_KEEP_SECONDS
    s = Store(tmp_path)
    s.keep_result("a", {"session_id": "a", "n": 1}, 1000.0)
    s.keep_result("b", {"session_id": "b", "n": 2}, 1100.0)
    assert s.kept_result(None, 1200.0)["session_id"] == "b"          # the latest
    assert s.kept_result("a", 1200.0) == {"session_id": "a", "n": 1}
    assert s.kept_result("a", 1000.0 + RESULT_KEEP_SECONDS + 1) is None
    s.keep_result("c", {"session_id": "c"}, 1100.0 + RESULT_KEEP_SECONDS + 1)
    assert s.db.execute("SELECT session FROM results").fetchall() == [("c",)]   # older rows deleted, not hidden
    s.close()


def test_a_store_of_the_previous_schema_is_brought_up_to_date(tmp_path):
    Store(tmp_path).close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.executescript("DROP TABLE results; PRAGMA user_version=1;")
    conn.close()
    s = Store(tmp_path)
    s.keep_result("x", {"session_id": "x"}, 1.0)
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == 2
    s.close()
