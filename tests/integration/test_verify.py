"""The verifier on a real snapshot, journal and keys: match, one message for every mismatch, lockouts, outbox first."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from firmware.callflow import Verdict
from firmware.journal import Journal
from firmware.keys import load_central_private_key, load_central_public_key, load_or_create_secret
from firmware.sealing import unseal
from firmware.snapshot import KdfParams, Snapshot
from firmware.snapshot_build import write_snapshot
from firmware.verify import LockoutPolicy, Verifier
from firmware import password as pw

FAST = KdfParams(n=2**10)
ROWS = [
    ("0123456789", "+84912345678", "VSS-0001"),
    ("7912345601", "+84362345678", "VSS-0002"),  # exported from the old 01662345678
    ("3112345602", "+84987654321", None),
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def box(tmp_path: Path) -> "Box":
    (tmp_path / "snapshot").mkdir()
    write_snapshot(ROWS, tmp_path / "snapshot" / "current.db", params=FAST, workers=1)
    return Box(tmp_path)


class Box:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.clock = Clock()
        self.open()

    def open(self) -> None:
        self.journal = Journal.open(self.state / "journal.db")
        self.snapshot = Snapshot.open(self.state / "snapshot" / "current.db")
        public, _ = load_central_public_key(None, self.state)
        self.verifier = Verifier(
            lambda: self.snapshot,
            self.journal,
            public,
            load_or_create_secret(self.state, "lockout.key"),
            LockoutPolicy(max_mismatches=3, window_s=24 * 3600),
            self.clock,
        )

    def restart(self) -> None:
        self.journal.close()
        self.snapshot.close()
        self.open()

    def sealed_resets(self) -> list[dict]:
        private = load_central_private_key(self.state / "keys" / "dev-central.key")
        conn = sqlite3.connect(self.state / "journal.db")
        blobs = [row[0] for row in conn.execute("SELECT sealed FROM outbox ORDER BY id")]
        conn.close()
        return [unseal(private, blob) for blob in blobs]


def test_match_issues_a_password_that_is_already_sealed_in_the_outbox(box: Box) -> None:
    verdict = box.verifier.check("0912 345 678", "0123456789", "call-1")
    assert verdict.verdict is Verdict.RESET and verdict.password is not None
    assert pw.is_valid(verdict.password)
    [event] = box.sealed_resets()
    assert event["password"] == verdict.password
    assert event["account_ref"] == "VSS-0001" and event["bhxh_code"] == "0123456789"
    assert event["call_ref"] == "call-1"


def test_an_unheard_reset_is_voided_at_central(box: Box) -> None:
    from provisioning.central.receipts import Event, Receipts
    verdict = box.verifier.check("0912 345 678", "0123456789", "call-1")
    box.verifier.check("0362 345 678", "7912345601", "call-2")
    box.verifier.void("call-1")  # the call stopped waiting before the verdict came
    assert [(e["kind"], e["call_ref"]) for e in box.sealed_resets()] == \
        [("reset", "call-1"), ("reset", "call-2"), ("reset_void", "call-1")]
    private = load_central_private_key(box.state / "keys" / "dev-central.key")
    receipts = Receipts(box.state / "central.db", private)
    receipts.record("box-1", [Event(i, blob) for i, blob in box.journal.pending_resets()])
    conn = sqlite3.connect(box.state / "central.db")
    applied = conn.execute("SELECT call_ref, password, voided_at IS NOT NULL FROM resets ORDER BY outbox_id").fetchall()
    conn.close()
    receipts.close()
    assert applied[0] == ("call-1", verdict.password, 1) and applied[1][0::2] == ("call-2", 0)


def test_old_eleven_digit_caller_id_matches_the_renumbered_row(box: Box) -> None:
    assert box.verifier.check("+84 1662345678", "7912345601", "c").verdict is Verdict.RESET


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        ("0912345678", "7912345601"),  # both known, not a pair
        ("0912345678", "5512345678"),  # unknown code
        ("0933333333", "0123456789"),  # unknown number
        ("12345", "0123456789"),       # a caller ID that is no phone number at all
    ],
)
def test_every_kind_of_mismatch_gets_the_same_verdict_and_no_outbox_event(box: Box, caller: str, code: str) -> None:
    assert box.verifier.check(caller, code, "c").verdict is Verdict.MISMATCH
    assert box.sealed_resets() == []


def test_third_mismatch_from_one_number_locks_it_even_with_the_right_code_after_a_restart(box: Box) -> None:
    for code in ("5512345678", "5512345679", "5512345670"):
        assert box.verifier.check("0912345678", code, "c").verdict is Verdict.MISMATCH
    box.restart()
    assert box.verifier.check("0912345678", "0123456789", "c").verdict is Verdict.LOCKED
    assert box.sealed_resets() == []
    assert box.verifier.check("0987654321", "3112345602", "c").verdict is Verdict.RESET  # others unaffected


def test_three_numbers_guessing_one_code_lock_the_code(box: Box) -> None:
    for caller in ("0933333331", "0933333332", "0933333333"):
        assert box.verifier.check(caller, "0123456789", "c").verdict is Verdict.MISMATCH
    assert box.verifier.check("0912345678", "0123456789", "c").verdict is Verdict.LOCKED


def test_lockout_ends_after_the_window(box: Box) -> None:
    for code in ("5512345678", "5512345679", "5512345670"):
        box.verifier.check("0912345678", code, "c")
    box.clock.now += 24 * 3600 + 1
    assert box.verifier.check("0912345678", "0123456789", "c").verdict is Verdict.RESET


def test_outbox_failure_means_an_apology_never_a_password(box: Box) -> None:
    conn = sqlite3.connect(box.state / "journal.db")  # a real SQLite failure on the outbox insert
    conn.execute("CREATE TRIGGER full BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    conn.commit()
    conn.close()
    verdict = box.verifier.check("0912345678", "0123456789", "c")
    assert verdict.verdict is Verdict.ERROR and verdict.password is None


def test_missing_snapshot_is_an_error_verdict(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "journal.db")
    public, _ = load_central_public_key(None, tmp_path)

    def no_snapshot() -> Snapshot:
        return Snapshot.open(tmp_path / "snapshot" / "current.db")

    verifier = Verifier(no_snapshot, journal, public, b"k" * 32)
    assert verifier.check("0912345678", "0123456789", "c").verdict is Verdict.ERROR
