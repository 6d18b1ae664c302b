"""The sealed snapshot: lookups answer right, and the file gives away no code or number."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from firmware import FirmwareError
from firmware.phone import national_form, normalise_phone
from firmware.snapshot import (
    KdfParams,
    Match,
    Snapshot,
    SnapshotError,
    WriteReport,
)
from firmware.snapshot_build import write_snapshot

FAST = KdfParams(n=2**10)
SALT = bytes(range(16))

# (code, phone as a CSV or caller might write it, account_ref)
ACCOUNTS = [
    ("0123456789", "0912345678", "VSS-0001"),
    ("7912345601", "01662345678", "VSS-0002"),        # pre-2018 Viettel number
    ("3112345602", "+84 98 765 4321", "VSS-0003"),
    ("0198765403", "0987.000.111", None),
    ("0112345604", "024 3823 4567", "Sổ BHXH số 5"),  # landline; non-ASCII reference
]


def _rows() -> list[tuple[str, str, str | None]]:
    return [(code, normalise_phone(phone), ref) for code, phone, ref in ACCOUNTS]


@pytest.fixture()
def built(tmp_path: Path) -> Path:
    out = tmp_path / "current.db"
    write_snapshot(_rows(), out, params=FAST, workers=1)
    return out


def test_a_known_pair_matches_and_reveals_its_account_ref(built: Path) -> None:
    with Snapshot.open(built) as snapshot:
        assert snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001")
        assert snapshot.lookup("0112345604", "+842438234567") == Match("Sổ BHXH số 5")
        assert snapshot.lookup("0198765403", "+84987000111") == Match(None)


@pytest.mark.parametrize(
    "code,phone",
    [
        ("0123456789", "+84987654321"),  # known code, another registered number: mismatch
        ("0123456789", "+84911111111"),  # known code, unknown number
        ("0999999999", "+84912345678"),  # unknown code, known number
        ("0999999999", "+84911111111"),  # neither
    ],
)
def test_anything_but_the_registered_pair_is_no_match(built: Path, code: str, phone: str) -> None:
    with Snapshot.open(built) as snapshot:
        assert snapshot.lookup(code, phone) is None


def test_an_old_11_digit_row_matches_the_renumbered_caller(built: Path) -> None:
    with Snapshot.open(built) as snapshot:
        assert snapshot.lookup("7912345601", normalise_phone("0362345678")) == Match("VSS-0002")
        assert snapshot.lookup("7912345601", normalise_phone("+84 36 234 5678")) == Match("VSS-0002")


def test_every_lookup_costs_one_scrypt_whatever_the_outcome(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hashlib.scrypt
    calls: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    with Snapshot.open(built) as snapshot:
        monkeypatch.setattr(hashlib, "scrypt", counting)
        for code, phone in [("0123456789", "+84912345678"), ("0123456789", "+84987654321"),
                            ("0999999999", "+84912345678"), ("0999999999", "+84911111111")]:
            calls.clear()
            snapshot.lookup(code, phone)
            assert len(calls) == 1, (code, phone)


def _textual_forms(code: str, phone: str, ref: str | None) -> set[bytes]:
    e164 = normalise_phone(phone)
    national = national_form(e164)
    digits_only = "".join(ch for ch in phone if ch.isdigit())
    forms = {code, e164, e164[1:], national, national[1:], phone, digits_only, f"{code}|{e164}"}
    if ref:
        forms.add(ref)
    return {form.encode("utf-8") for form in forms} | {form.encode("utf-16-le") for form in forms}


def test_the_file_holds_no_code_phone_or_reference_in_any_form(built: Path) -> None:
    files = [p for p in built.parent.iterdir() if p.name.startswith(built.name)]
    assert [p.name for p in files] == ["current.db"]  # no -journal / -wal left behind
    with Snapshot.open(built) as snapshot:
        snapshot.lookup("0123456789", "+84912345678")
        files = [p for p in built.parent.iterdir()]
    raw = b"".join(p.read_bytes() for p in files)
    for code, phone, ref in ACCOUNTS:
        for form in _textual_forms(code, phone, ref):
            assert form not in raw, f"{form!r} found in the snapshot"


def test_meta_describes_the_build(tmp_path: Path) -> None:
    out = tmp_path / "current.db"
    write_snapshot(_rows(), out, params=FAST, region="HN", sequence=7, workers=1)
    with Snapshot.open(out) as snapshot:
        meta = dict(snapshot.meta)
        assert snapshot.row_count == len(ACCOUNTS)
    assert meta["format_version"] == "1"
    assert (meta["kdf"], meta["kdf_n"], meta["kdf_r"], meta["kdf_p"]) == ("scrypt", "1024", "8", "1")
    assert len(bytes.fromhex(meta["salt"])) == 16
    assert (meta["region"], meta["sequence"], meta["row_count"]) == ("HN", "7", str(len(ACCOUNTS)))
    assert meta["built_at"].endswith("Z")


def test_each_build_has_its_own_salt_and_a_fixed_salt_reproduces_it(tmp_path: Path) -> None:
    def accounts(path: Path) -> list[tuple[bytes, bytes]]:
        with sqlite3.connect(path) as conn:
            return list(conn.execute("SELECT lookup, sealed_ref FROM accounts ORDER BY lookup"))

    paths = [tmp_path / f"{name}.db" for name in ("a", "b", "c", "d")]
    write_snapshot(_rows(), paths[0], params=FAST, workers=1)
    write_snapshot(_rows(), paths[1], params=FAST, workers=1)
    write_snapshot(_rows(), paths[2], params=FAST, workers=1, salt=SALT)
    write_snapshot(_rows(), paths[3], params=FAST, workers=1, salt=SALT)
    assert set(accounts(paths[0])).isdisjoint(accounts(paths[1]))
    assert accounts(paths[2]) == accounts(paths[3])


def test_duplicate_pairs_keep_the_last_row(tmp_path: Path) -> None:
    out = tmp_path / "current.db"
    rows = _rows() + [("0123456789", "+84912345678", "VSS-0001-NEW"),
                      ("7912345601", normalise_phone("0362345678"), "VSS-0002-NEW")]
    report = write_snapshot(rows, out, params=FAST, workers=1)
    assert (report.rows, report.duplicates) == (len(ACCOUNTS), 2)
    with Snapshot.open(out) as snapshot:
        assert snapshot.row_count == len(ACCOUNTS)
        assert snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001-NEW")
        assert snapshot.lookup("7912345601", "+84362345678") == Match("VSS-0002-NEW")


def test_a_process_pool_build_equals_a_single_process_build(tmp_path: Path) -> None:
    rows = [(f"01{i:08d}", f"+8491{i:07d}", f"REF-{i}") for i in range(100)]
    seen: list[int] = []
    pooled = write_snapshot(rows, tmp_path / "pooled.db", params=KdfParams(n=2**8), workers=2,
                            salt=SALT, progress=seen.append)
    single = write_snapshot(rows, tmp_path / "single.db", params=KdfParams(n=2**8), workers=1,
                            salt=SALT)
    assert isinstance(pooled, WriteReport) and (pooled.rows, pooled.duplicates) == (100, 0)
    assert seen == sorted(seen) and seen[-1] == 100
    query = "SELECT lookup, sealed_ref FROM accounts ORDER BY lookup"
    with sqlite3.connect(tmp_path / "pooled.db") as a, sqlite3.connect(tmp_path / "single.db") as b:
        assert list(a.execute(query)) == list(b.execute(query)) != []
    assert single.rows == 100


def test_rows_that_are_not_normalised_stop_the_build_and_leave_nothing(tmp_path: Path) -> None:
    out = tmp_path / "current.db"
    with pytest.raises(SnapshotError, match="row 2 is not normalised"):
        write_snapshot([("0123456789", "+84912345678", None), ("0123456789", "0912345678", None)],
                       out, params=FAST, workers=1)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_lookups_from_threads(built: Path) -> None:
    results: list[bool] = []
    with Snapshot.open(built) as snapshot:
        def worker() -> None:
            for _ in range(5):
                results.append(snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001"))
                results.append(snapshot.lookup("0123456789", "+84911111111") is None)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert results == [True] * 40


def test_open_never_modifies_the_file(built: Path) -> None:
    before = (built.read_bytes(), built.stat().st_mtime_ns)
    with Snapshot.open(built) as snapshot:
        snapshot.lookup("0123456789", "+84912345678")
        snapshot.lookup("0999999999", "+84912345678")
    assert (built.read_bytes(), built.stat().st_mtime_ns) == before
    assert sorted(p.name for p in built.parent.iterdir()) == ["current.db"]


def test_a_closed_snapshot_refuses_lookups(built: Path) -> None:
    snapshot = Snapshot.open(built)
    snapshot.close()
    snapshot.close()  # idempotent
    with pytest.raises(SnapshotError, match="closed"):
        snapshot.lookup("0123456789", "+84912345678")


def _edit(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda p: p.unlink(), "not found"),
        (lambda p: p.write_bytes(b"this is not a database" * 100), "not a readable SQLite database"),
        (lambda p: p.write_bytes(b""), "no 'meta' table"),
        (lambda p: _edit(p, "UPDATE meta SET value = '3' WHERE key = 'format_version'"),
         "format_version '3'"),
        (lambda p: _edit(p, "DELETE FROM meta WHERE key = 'salt'"), "missing salt"),
        (lambda p: _edit(p, "UPDATE meta SET value = 'zz' WHERE key = 'salt'"), "malformed"),
        (lambda p: _edit(p, "UPDATE meta SET value = '1073741824' WHERE key = 'kdf_n'"),
         "power of two"),
        (lambda p: _edit(p, "DELETE FROM accounts WHERE lookup = (SELECT min(lookup) FROM accounts)"),
         "meta says 5 rows but it holds 4"),
        (lambda p: _edit(p, "DROP TABLE accounts",
                         "CREATE TABLE accounts(lookup TEXT PRIMARY KEY, sealed_ref TEXT)"),
         "wrong columns"),
    ],
)
def test_damaged_files_are_refused_with_a_clear_message(
    built: Path, damage: Callable[[Path], None], message: str
) -> None:
    damage(built)
    with pytest.raises(SnapshotError, match=message) as caught:
        Snapshot.open(built)
    assert isinstance(caught.value, FirmwareError)


def test_a_tampered_account_ref_is_detected_on_lookup(built: Path, tmp_path: Path) -> None:
    with Snapshot.open(built) as snapshot:
        lookup_key = hashlib.scrypt(
            b"0123456789|+84912345678", salt=bytes.fromhex(snapshot.meta["salt"]),
            n=FAST.n, r=FAST.r, p=FAST.p, dklen=64, maxmem=FAST.maxmem)[:32]
    with sqlite3.connect(built) as conn:
        (sealed,) = conn.execute("SELECT sealed_ref FROM accounts WHERE lookup = ?",
                                 (lookup_key,)).fetchone()
        flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
        conn.execute("UPDATE accounts SET sealed_ref = ? WHERE lookup = ?", (flipped, lookup_key))
    with Snapshot.open(built) as snapshot:
        with pytest.raises(SnapshotError, match="damaged or tampered"):
            snapshot.lookup("0123456789", "+84912345678")


def test_default_parameters_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "current.db"
    report = write_snapshot(_rows()[:2], out, workers=1)
    assert report.rows == 2
    with Snapshot.open(out) as snapshot:
        assert snapshot.params == KdfParams(n=2**14, r=8, p=1)
        assert snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001")
        assert snapshot.lookup("0123456789", "+84911111111") is None


def test_copying_the_file_elsewhere_keeps_it_usable(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "elsewhere" / "snapshot with spaces.db"
    copy.parent.mkdir()
    shutil.copy(built, copy)
    with Snapshot.open(copy) as snapshot:
        assert snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001")
