"""`resetline central keygen` and `resetline snapshot build|delta` as central runs them."""

from __future__ import annotations

from pathlib import Path

from firmware.keys import load_verify_key
from firmware.snapshot import Snapshot, verify_snapshot
from snapshot_kit import resetline

ROWS = "".join(f"01{i:08d},091{i:07d},VSS-{i}\n" for i in range(50))
BAD = "0123,0912345678,X\n0200000001,12345,Y\n0200000002,0912000002,Z,extra\n"  # lines 52, 53, 54


def _keys(tmp_path: Path) -> Path:
    done = resetline("central", "keygen", "--dir", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "c" / n) for n in
                                   ("signing.key", "signing.pub", "sealing.key", "sealing.pub")]
    return tmp_path / "c"


def _build(tmp_path: Path, keys: Path, text: str, *extra: str, sequence: int = 1, name: str = "1.snap") -> tuple:
    csv = tmp_path / f"{name}.csv"
    csv.write_text("bhxh_code,phone,account_ref\n" + text, encoding="utf-8")
    done = resetline("snapshot", "build", "--csv", str(csv), "--region", "HN-01", "--sequence", str(sequence),
                     "--signing-key", str(keys / "signing.key"), "--out", str(tmp_path / name),
                     "--kdf-n", "16", *extra)
    return done.returncode, done.stdout, done.stderr


def test_build_skips_malformed_rows_by_line_and_signs_the_rest(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    code, out, err = _build(tmp_path, keys, ROWS + BAD)
    assert code == 0, err
    assert "line 52: bhxh_code" in err and "line 53: phone" in err and "line 54: expected 2 or 3 columns" in err
    assert "skipped 3 malformed row(s)" in err and "50 rows" in out and "3 malformed skipped" in out
    assert "0912345678" not in err and "0200000001" not in err  # row content is never echoed
    meta = verify_snapshot(tmp_path / "1.snap", load_verify_key(keys / "signing.pub"))
    assert (meta["region"], meta["sequence"], meta["row_count"]) == ("HN-01", "1", "50")


def test_strict_build_writes_nothing_on_a_malformed_row(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    code, _, err = _build(tmp_path, keys, ROWS + BAD, "--strict")
    assert code == 1 and "line 52" in err and "nothing written" in err
    assert not (tmp_path / "1.snap").exists() and not list(tmp_path.glob("*.tmp"))


def test_build_with_base_keeps_the_lineage_so_the_delta_is_small(tmp_path: Path) -> None:
    keys = _keys(tmp_path)
    assert _build(tmp_path, keys, ROWS)[0] == 0
    changed = ROWS.replace("VSS-7\n", "VSS-7b\n")
    code, _, err = _build(tmp_path, keys, changed, "--base", str(tmp_path / "1.snap"), sequence=2, name="2.snap")
    assert code == 0, err
    with Snapshot.open(tmp_path / "1.snap") as old, Snapshot.open(tmp_path / "2.snap") as new:
        assert old.meta["salt"] == new.meta["salt"]
    done = resetline("snapshot", "delta", str(tmp_path / "1.snap"), str(tmp_path / "2.snap"),
                     "--signing-key", str(keys / "signing.key"), "--out", str(tmp_path / "1-2.delta"))
    assert done.returncode == 0 and "1 upserts, 0 removals" in done.stdout, done.stderr
    code, _, err = _build(tmp_path, keys, ROWS, "--base", str(tmp_path / "2.snap"), sequence=2, name="x.snap")
    assert code == 1 and "sequence below 2" in err


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    _keys(tmp_path)
    done = resetline("central", "keygen", "--dir", str(tmp_path / "c"))
    assert done.returncode == 1 and "refusing to overwrite" in done.stderr
