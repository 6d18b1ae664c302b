"""The journal as the daemon and the technician use it: calls, outbox, lockout counters."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from firmware.journal import CallRecord, Journal, JournalError

REPO = Path(__file__).resolve().parents[2]

# The real `resetline` entry point is not ready yet: a minimal root parser stands in.
CLI = """
import argparse, sys
from firmware import journal_command
parser = argparse.ArgumentParser(prog="resetline")
journal_command.register(parser.add_subparsers(required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.func(args))
"""


def _call(ref: str, at: float, outcome: str = "reset", caller: str = "09******78", line: str = "sim0") -> CallRecord:
    return CallRecord(call_ref=ref, started_at=at, line=line, caller_masked=caller, outcome=outcome, duration_s=31.5)


@pytest.fixture
def journal(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Journal.open(tmp_path / "state" / "journal.db") as j:
        yield j


def _applied_migrations(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'resetline.journal' ORDER BY id"
        ).fetchall()
    return [r[0] for r in rows]


def test_new_journal_is_private_migrated_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.db"
    with Journal.open(path) as j:
        assert j.pragmas() == {"journal_mode": "wal", "synchronous": 2}  # 2 == FULL
        j.add_reset(call_ref="c1", sealed=b"s" * 90, created_at=1000.0)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = _applied_migrations(path)
    assert first == ["m001_calls", "m002_outbox", "m003_attempts", "m004_open_calls", "m005_notices",
                     "m006_audit"]

    with Journal.open(path) as j:  # reopening applies nothing twice and keeps the data
        assert j.pragmas() == {"journal_mode": "wal", "synchronous": 2}
        assert [r["call_ref"] for r in j.outbox()] == ["c1"]
    assert _applied_migrations(path) == first


def test_calls_newest_first_and_unmasked_numbers_refused(journal: Journal) -> None:
    journal.record_call(_call("old", 100.0))
    journal.record_call(_call("new", 200.0, outcome="mismatch"))
    journal.record_call(_call("mid", 150.0, outcome="no_caller_id", caller=""))
    assert [c["call_ref"] for c in journal.calls()] == ["new", "mid", "old"]
    assert journal.calls(limit=1) == [
        {"call_ref": "new", "started_at": 200.0, "line": "sim0", "caller_masked": "09******78",
         "outcome": "mismatch", "duration_s": 31.5}
    ]
    with pytest.raises(JournalError, match="not masked"):
        journal.record_call(_call("leak", 300.0, caller="0912345678"))
    with pytest.raises(JournalError, match="unknown call outcome"):
        journal.record_call(_call("typo", 300.0, outcome="succes"))
    assert len(journal.calls()) == 3


def test_outbox_lists_sizes_and_sync_marks_sent(journal: Journal) -> None:
    a = journal.add_reset(call_ref="ca", sealed=b"A" * 120, created_at=10.0)
    b = journal.add_reset(call_ref="cb", sealed=b"B" * 130, created_at=20.0)
    assert b > a
    assert journal.outbox() == [
        {"id": b, "created_at": 20.0, "call_ref": "cb", "size": 130, "sent_at": None},
        {"id": a, "created_at": 10.0, "call_ref": "ca", "size": 120, "sent_at": None},
    ]
    assert journal.pending_resets() == [(a, b"A" * 120), (b, b"B" * 130)]
    journal.mark_sent([a], at=30.0)
    journal.mark_sent([a], at=99.0)  # a repeated acknowledgement keeps the first time
    assert journal.pending_resets() == [(b, b"B" * 130)]
    assert {r["id"]: r["sent_at"] for r in journal.outbox()} == {a: 30.0, b: None}


def test_attempt_windows_and_purge(journal: Journal) -> None:
    journal.record_attempt(["code:aaaaaa", "phone:bbbbbb"], at=100.0)
    journal.record_attempt(["code:aaaaaa", "code:aaaaaa"], at=200.0)  # one attempt, counted once
    journal.record_attempt(["code:aaaaaa"], at=300.0)
    assert journal.count_attempts("code:aaaaaa", since=0.0) == 3
    assert journal.count_attempts("code:aaaaaa", since=200.0) == 2  # the window includes its start
    assert journal.count_attempts("code:aaaaaa", since=300.5) == 0
    assert journal.count_attempts("phone:bbbbbb", since=0.0) == 1
    assert journal.count_attempts("unknown", since=0.0) == 0
    assert journal.purge_attempts(before=200.0) == 2
    assert journal.count_attempts("code:aaaaaa", since=0.0) == 2
    assert journal.count_attempts("phone:bbbbbb", since=0.0) == 0


def test_two_threads_share_the_journal(journal: Journal) -> None:
    errors: list[BaseException] = []
    ids: list[int] = []

    def resets() -> None:
        try:
            for i in range(150):
                ids.append(journal.add_reset(call_ref=f"r{i}", sealed=b"x" * 100, created_at=float(i)))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def attempts() -> None:
        try:
            for i in range(150):
                journal.record_attempt(["k1", "k2"], at=float(i))
                journal.count_attempts("k1", since=0.0)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=resets), threading.Thread(target=attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert errors == []
    assert len(set(ids)) == 150
    assert len(journal.pending_resets(limit=1000)) == 150
    assert journal.count_attempts("k2", since=0.0) == 150


def test_read_only_journal_refuses_writes_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with pytest.raises(JournalError, match="no journal"):
        Journal.open(path, read_only=True)
    assert not path.exists()
    Journal.open(path).close()
    with Journal.open(path, read_only=True) as ro:
        with pytest.raises(JournalError, match="journal write of reset failed: attempt to write a readonly"):
            ro.add_reset(call_ref="c", sealed=b"s", created_at=1.0)
    closed = Journal.open(path)
    closed.close()
    with pytest.raises(JournalError, match="closed"):
        closed.calls()


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "TZ": "ICT-7"}
    return subprocess.run(
        [sys.executable, "-c", CLI, "journal", *args],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=REPO, timeout=30,
    )


@pytest.fixture
def state_with_calls(tmp_path: Path) -> tuple[Path, bytes]:
    sealed = os.urandom(140)
    with Journal.open(tmp_path / "journal.db") as j:
        j.record_call(_call("ref-ok", 1_750_000_000.0, line="đường-1"))
        j.record_call(_call("ref-bad", 1_750_000_100.0, outcome="mismatch", caller="03******21"))
        sent = j.add_reset(call_ref="ref-ok", sealed=sealed, created_at=1_750_000_030.0)
        j.mark_sent([sent], at=1_750_000_500.0)
        j.add_reset(call_ref="ref-later", sealed=sealed[::-1], created_at=1_750_000_200.0)
    return tmp_path, sealed


def _assert_no_sealed_bytes(text: str, sealed: bytes) -> None:
    for shown in (sealed.hex(), base64.b64encode(sealed).decode(), sealed[:16].hex()):
        assert shown not in text


def test_command_table_shows_masked_calls_and_reset_status(state_with_calls: tuple[Path, bytes]) -> None:
    state, sealed = state_with_calls
    before = hashlib.sha256((state / "journal.db").read_bytes()).hexdigest()
    result = _run_cli("--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("Caller", "Outcome", "09******78", "03******21", "đường-1", "mismatch", "pending",
                     "sent 2025-06-15T22:15:00+07:00", "140 B", "2025-06-15T22:06:40+07:00"):
        assert expected in out
    _assert_no_sealed_bytes(out, sealed)
    assert hashlib.sha256((state / "journal.db").read_bytes()).hexdigest() == before


def test_command_json_lines(state_with_calls: tuple[Path, bytes]) -> None:
    state, sealed = state_with_calls
    result = _run_cli("--json", "--state-dir", str(state))
    assert result.returncode == 0, result.stderr
    assert "đường-1" in result.stdout  # not \u-escaped
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["kind"] for e in events] == ["call", "call", "reset", "reset"]
    assert [e["caller"] for e in events[:2]] == ["03******21", "09******78"]
    assert events[2]["status"] == "pending" and events[2]["sent_at"] is None
    assert events[3]["status"] == "sent" and events[3]["size"] == 140
    assert events[3]["time"] == "2025-06-15T22:07:10+07:00"
    _assert_no_sealed_bytes(result.stdout, sealed)


def test_command_without_journal_fails_and_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "nowhere"
    result = _run_cli("--state-dir", str(state))
    assert result.returncode == 1
    assert "no journal at" in result.stderr and str(state) in result.stderr
    assert result.stdout == ""
    assert not state.exists()
