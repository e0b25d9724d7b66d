"""docs/faults.md cannot drift: every message key, event, abort reason and test it names exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from mynareader.daemon.kiosk_web.labels import LABELS
from mynareader.daemon.reception.texts import TEXTS
from mynareader.daemon.service.protocol import NOTIFICATIONS as EVENTS

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "faults.md").read_text()
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()


def rows() -> list[list[str]]:
    table = [line for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("| Fault")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table]


def test_the_table_has_a_row_per_fault_with_every_column_filled():
    assert len(rows()) >= 14
    for row in rows():
        assert len(row) == 5 and all(row), row


def test_every_message_the_patient_sees_exists():
    for row in rows():
        for source, key in re.findall(r"`(texts|page):(\w+)`", row[1]):
            assert key in (TEXTS if source == "texts" else LABELS), (source, key)


def test_every_event_and_abort_reason_staff_see_exists():
    aborted = next(line for line in PROTOCOL.splitlines() if line.startswith("| `session.aborted` |"))
    reasons = set(re.findall(r"`(\w+)`", aborted))
    for row in rows():
        for name in re.findall(r"`(reader\.\w+|session\.\w+|result\.\w+|guidance)`", row[2]):
            assert name in EVENTS or f"`{name}`" in PROTOCOL, name
        for reason in re.findall(r"reason `(\w+)`", row[2]):
            assert reason in reasons, reason


def test_every_row_names_a_test_that_exists():
    for row in rows():
        named = re.fullmatch(r"`(tests/\w+\.py)::(\w+)`", row[4])
        assert named, row[4]
        module = ast.parse((ROOT / named.group(1)).read_text())
        tests = {node.name for node in ast.walk(module) if isinstance(node, ast.FunctionDef)}
        assert named.group(2) in tests, row[4]
