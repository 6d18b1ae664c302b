"""Format 2: central's signature covers the meta and every row; any change to the file is refused with a reason."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import nacl.signing
import pytest

from firmware.snapshot import KdfParams, Snapshot, SnapshotError, verify_snapshot
from firmware.snapshot_build import write_snapshot

FAST = KdfParams(n=2**4)
KEY = nacl.signing.SigningKey(bytes(range(32)))
OTHER = nacl.signing.SigningKey(bytes(range(1, 33)))
ROWS = [(f"01{i:08d}", f"+8491{i:07d}", f"VSS-{i}") for i in range(200)]


@pytest.fixture()
def signed(tmp_path: Path) -> Path:
    out = tmp_path / "7.snap"
    write_snapshot(ROWS, out, params=FAST, region="HN-01", sequence=7, workers=1, signing_key=KEY)
    return out


def _edit(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


def test_a_signed_build_verifies_and_describes_itself(signed: Path) -> None:
    meta = verify_snapshot(signed, KEY.verify_key)
    assert (meta["format_version"], meta["kind"], meta["region"], meta["sequence"], meta["row_count"]) == \
        ("2", "snapshot", "HN-01", "7", "200")
    assert meta["signing_key"] == bytes(KEY.verify_key).hex()
    with Snapshot.open(signed) as snapshot:  # the daemon reads format 2 as before
        assert snapshot.lookup("0100000005", "+84910000005") is not None


def test_another_key_is_named_as_the_reason(signed: Path) -> None:
    with pytest.raises(SnapshotError, match="signed by another key"):
        verify_snapshot(signed, OTHER.verify_key)


def _flip_one_sealed_byte(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        lookup, sealed = conn.execute("SELECT lookup, sealed_ref FROM accounts LIMIT 1 OFFSET 50").fetchone()
        conn.execute("UPDATE accounts SET sealed_ref = ? WHERE lookup = ?",
                     (sealed[:-1] + bytes([sealed[-1] ^ 1]), lookup))


@pytest.mark.parametrize("tamper,message", [
    (_flip_one_sealed_byte, "signature does not match"),
    (lambda p: _edit(p, "UPDATE meta SET value = 'HCM' WHERE key = 'region'"), "signature does not match"),
    (lambda p: _edit(p, "UPDATE meta SET value = '8' WHERE key = 'sequence'"), "signature does not match"),
    (lambda p: _edit(p, "DELETE FROM accounts WHERE lookup = (SELECT max(lookup) FROM accounts)",
                     "UPDATE meta SET value = '199' WHERE key = 'row_count'"), "signature does not match"),
    (lambda p: _edit(p, f"UPDATE meta SET value = '{bytes(OTHER.verify_key).hex()}' WHERE key = 'signing_key'"),
     "signed by another key"),
    (lambda p: _edit(p, "UPDATE meta SET value = 'zz' WHERE key = 'signature'"), "signature does not match"),
    (lambda p: _edit(p, "CREATE VIEW extra AS SELECT 1"), "unexpected database objects"),
    (lambda p: _edit(p, "INSERT INTO meta VALUES ('note', 'x')"), "unexpected keys"),
    (lambda p: _edit(p, "UPDATE meta SET value = 'HN\nrow_count=1' WHERE key = 'region'"), "line break"),
])
def test_any_change_to_a_signed_file_is_refused(signed: Path, tamper: Callable[[Path], None],
                                                message: str) -> None:
    tamper(signed)
    with pytest.raises(SnapshotError, match=message):
        verify_snapshot(signed, KEY.verify_key)


def test_a_file_resigned_by_an_attacker_with_their_own_key_is_refused(tmp_path: Path) -> None:
    forged = tmp_path / "forged.snap"
    write_snapshot(ROWS, forged, params=FAST, region="HN-01", sequence=99, workers=1, signing_key=OTHER)
    verify_snapshot(forged, OTHER.verify_key)
    with pytest.raises(SnapshotError, match="signed by another key"):
        verify_snapshot(forged, KEY.verify_key)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_file_is_refused_as_damaged(signed: Path, keep: float) -> None:
    data = signed.read_bytes()
    signed.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(SnapshotError, match="truncated|damaged|not a readable|malformed"):
        verify_snapshot(signed, KEY.verify_key)


def test_an_unsigned_local_import_cannot_pass_as_central(tmp_path: Path) -> None:
    local = tmp_path / "local.db"
    write_snapshot(ROWS[:3], local, params=FAST, workers=1)
    with pytest.raises(SnapshotError, match="unsigned local import"):
        verify_snapshot(local, KEY.verify_key)


@pytest.mark.parametrize("region", ["", "HN 01", "../x", "a" * 65])
def test_a_signed_build_needs_a_region_usable_as_a_path_segment(tmp_path: Path, region: str) -> None:
    with pytest.raises(SnapshotError, match="region"):
        write_snapshot(ROWS[:3], tmp_path / "x.snap", params=FAST, region=region, sequence=1, workers=1,
                       signing_key=KEY)
    assert list(tmp_path.iterdir()) == []


def test_the_build_is_in_key_order_and_keeps_the_last_duplicate(tmp_path: Path) -> None:
    rows = [*ROWS[:20], (ROWS[3][0], ROWS[3][1], "LATER")]
    out = tmp_path / "d.snap"
    report = write_snapshot(rows, out, params=FAST, region="HN", sequence=1, workers=2, signing_key=KEY)
    assert (report.rows, report.duplicates) == (20, 1)
    with Snapshot.open(out) as snapshot:
        match = snapshot.lookup(ROWS[3][0], ROWS[3][1])
        assert match is not None and match.account_ref == "LATER"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.snap"]  # no staging file left behind
