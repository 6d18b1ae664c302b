"""The journal's technician audit rows (migration m006_audit)."""
from __future__ import annotations

from pathlib import Path

import pytest

from firmware.journal import Journal, JournalError


def test_audit_rows_newest_first_and_kept_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with Journal.open(path) as journal:
        journal.record_audit("login_failed", "console /dev/ttyUSB0, failure 1 in a row", at=10.0)
        journal.record_audit("login_ok", "console /dev/ttyUSB0", at=20.0)
        journal.record_audit("pin_set", "from the shell", actor="admin", at=30.0)
    with Journal.open(path, read_only=True) as journal:
        rows = journal.audit(2)
    assert [(r["action"], r["actor"]) for r in rows] == [("pin_set", "admin"), ("login_ok", "technician")]


def test_audit_refuses_what_looks_like_a_number_or_code(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "journal.db") as journal:
        with pytest.raises(JournalError, match="mask it first"):
            journal.record_audit("config_set", "box.name: 'x' -> 'bhxh 0912345678'", at=1.0)
        with pytest.raises(JournalError, match="needs an action"):
            journal.record_audit("", "x", at=1.0)
        with pytest.raises(JournalError):
            journal.audit(0)
        journal.record_audit("config_set", "box.name: 'x' -> 'bhxh 09******78'", at=1.0)
        assert journal.audit(5)[0]["detail"].endswith("09******78'")
