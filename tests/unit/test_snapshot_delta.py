"""Deltas: only changed and removed rows, signed; applied to exactly their base they give NEW's content."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import nacl.signing
import pytest

from firmware.snapshot import KdfParams, Snapshot, SnapshotError, verify_snapshot
from firmware.snapshot_build import write_snapshot
from firmware.snapshot_delta import apply_delta, is_delta, make_delta, verify_delta

FAST = KdfParams(n=2**4)
KEY = nacl.signing.SigningKey(bytes(range(32)))
SALT = bytes(range(16))
OLD = [(f"01{i:08d}", f"+8491{i:07d}", f"VSS-{i}") for i in range(2000)]
# a day's changes: 10 accounts closed, 10 new, 10 with a new number, 10 with a new reference
NEW = (OLD[20:1990] + [(f"02{i:08d}", f"+8492{i:07d}", None) for i in range(10)]
       + [(code, phone.replace("+8491", "+8498"), ref) for code, phone, ref in OLD[1990:]]
       + [(code, phone, ref + "-b") for code, phone, ref in OLD[10:20]])


def _content(path: Path) -> str:
    """What a snapshot says, independent of page layout: SHA-256 of its meta and rows in key order."""
    digest = hashlib.sha256()
    with sqlite3.connect(path) as conn:
        for row in conn.execute("SELECT key, value FROM meta ORDER BY key"):
            digest.update(repr(row).encode())
        for row in conn.execute("SELECT lookup, sealed_ref FROM accounts ORDER BY lookup"):
            digest.update(row[0] + row[1])
    return digest.hexdigest()


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "1.snap", tmp_path / "2.snap"
    write_snapshot(OLD, old, params=FAST, region="HN", sequence=1, workers=1, salt=SALT, signing_key=KEY)
    write_snapshot(NEW, new, params=FAST, region="HN", sequence=2, workers=1, salt=SALT, signing_key=KEY)
    return old, new


def test_applying_the_delta_to_its_base_gives_new_exactly(pair: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = pair
    meta = make_delta(old, new, KEY, tmp_path / "1-2.delta")
    assert (meta["upserts"], meta["removals"]) == ("30", "20")  # 10 new + 10 renumbered + 10 changed; 20 gone
    result = apply_delta(tmp_path / "1-2.delta", old, tmp_path / "result.db", KEY.verify_key)
    assert result["signature"] == verify_snapshot(new, KEY.verify_key)["signature"]
    assert _content(tmp_path / "result.db") == _content(new)
    with Snapshot.open(tmp_path / "result.db") as snapshot:
        assert snapshot.lookup(*NEW[-1][:2]) is not None
        assert snapshot.lookup(*OLD[0][:2]) is None


def test_a_day_of_changes_is_a_small_fraction_of_the_full_file(pair: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = pair
    make_delta(old, new, KEY, tmp_path / "d.delta")
    assert is_delta(tmp_path / "d.delta") and not is_delta(new)
    assert (tmp_path / "d.delta").stat().st_size < 0.2 * new.stat().st_size


def test_a_delta_for_another_base_sequence_is_refused(pair: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = pair
    make_delta(old, new, KEY, tmp_path / "d.delta")
    older = tmp_path / "0.snap"
    write_snapshot(OLD, older, params=FAST, region="HN", sequence=0, workers=1, salt=SALT, signing_key=KEY)
    with pytest.raises(SnapshotError, match="applies to sequence 1, but the installed snapshot is sequence 0"):
        apply_delta(tmp_path / "d.delta", older, tmp_path / "out.db", KEY.verify_key)
    with pytest.raises(SnapshotError, match="sequence 2 is not newer than the installed sequence 2"):
        apply_delta(tmp_path / "d.delta", new, tmp_path / "out.db", KEY.verify_key)
    assert not (tmp_path / "out.db").exists()


def test_a_base_with_other_content_under_the_same_sequence_gives_no_result(pair: tuple[Path, Path],
                                                                            tmp_path: Path) -> None:
    old, new = pair
    make_delta(old, new, KEY, tmp_path / "d.delta")
    other = tmp_path / "other-1.snap"
    write_snapshot(OLD[:1500], other, params=FAST, region="HN", sequence=1, workers=1, salt=SALT, signing_key=KEY)
    with pytest.raises(SnapshotError, match="does not give sequence 2"):
        apply_delta(tmp_path / "d.delta", other, tmp_path / "out.db", KEY.verify_key)
    assert not (tmp_path / "out.db").exists()


def test_a_tampered_delta_is_refused_before_it_is_applied(pair: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = pair
    delta = tmp_path / "d.delta"
    make_delta(old, new, KEY, delta)
    with sqlite3.connect(delta) as conn:
        conn.execute("DELETE FROM removals WHERE lookup = (SELECT min(lookup) FROM removals)")
    with pytest.raises(SnapshotError, match="signature does not match"):
        verify_delta(delta, KEY.verify_key)


def test_snapshots_of_different_salts_make_no_delta(tmp_path: Path) -> None:
    old, new = tmp_path / "1.snap", tmp_path / "2.snap"
    write_snapshot(OLD[:50], old, params=FAST, region="HN", sequence=1, workers=1, signing_key=KEY)
    write_snapshot(OLD[:50], new, params=FAST, region="HN", sequence=2, workers=1, signing_key=KEY)
    with pytest.raises(SnapshotError, match="salt.*--base"):
        make_delta(old, new, KEY, tmp_path / "d.delta")
    with pytest.raises(SnapshotError, match="not newer"):
        make_delta(new, new, KEY, tmp_path / "d.delta")
