"""`resetline snapshot import` as a technician runs it: a CSV in, a sealed snapshot installed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.phone import normalise_phone
from firmware.snapshot import KdfParams, Match, Snapshot
from provisioning import ProvisioningError
from provisioning.snapshot_import import SnapshotImportError, import_csv

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "accounts.csv"
FAST = KdfParams(n=2**10)

# A root command line as small as the real one will be: only `snapshot import` registered.
CLI = (
    "import argparse, sys\n"
    "from provisioning.snapshot_commands import register\n"
    "root = argparse.ArgumentParser(prog='resetline')\n"
    "register(root.add_subparsers(dest='command', required=True))\n"
    "args = root.parse_args()\n"
    "sys.exit(args.func(args))\n"
)

GOOD = "0123456789,0912345678,VSS-0001\n7912345601,01662345678,VSS-0002\n"
# line 3: a 9-digit code; line 5: an invalid number; line 6: too many columns.
WITH_BAD = (
    "bhxh_code,phone,account_ref\n"
    "0123456789,0912345678,VSS-0001\n"
    "012345678,0912345679,VSS-0002\n"
    "\n"
    "3112345602,0992345678,VSS-0003\n"
    "0198765403,0987000111,VSS-4,extra\n"
    "0112345604,024 3823 4567,\n"
)
BAD_CONTENT = ["012345678", "0912345679", "0992345678", "992345678", "VSS-0003", "0987000111"]


def _csv(tmp_path: Path, text: str, *, bom: bool = False, name: str = "accounts.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def _run_cli(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "snapshot", "import", *arguments],
        capture_output=True, text=True, timeout=120, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_the_example_accounts_import_and_match_their_callers(tmp_path: Path) -> None:
    report = import_csv(EXAMPLE, tmp_path / "state", params=FAST, workers=1)
    assert (report.rows, report.duplicates, report.bad, report.header) == (6, 0, (), True)
    assert report.snapshot == tmp_path / "state" / "snapshot" / "current.db"
    assert report.previous is None
    with Snapshot.open(report.snapshot) as snapshot:
        assert snapshot.lookup("0123456789", normalise_phone("0912345678")) == Match("VSS-0001")
        # the CSV wrote 01662345678; today's caller presents 0362345678
        assert snapshot.lookup("7912345601", normalise_phone("0362345678")) == Match("VSS-0002")
        assert snapshot.lookup("3112345602", normalise_phone("0987654321")) == Match("VSS-0003")
        assert snapshot.lookup("0198765403", normalise_phone("0987000111")) == Match(None)
        assert snapshot.lookup("0112345604", normalise_phone("02438234567")) == Match("VSS-0005")
        assert snapshot.lookup("0123456789", normalise_phone("0362345678")) is None


def test_bad_rows_abort_with_line_numbers_and_install_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with pytest.raises(SnapshotImportError) as caught:
        import_csv(_csv(tmp_path, WITH_BAD), state, params=FAST, workers=1)
    assert isinstance(caught.value, ProvisioningError)
    assert [bad.line for bad in caught.value.bad] == [3, 5, 6]
    reasons = [bad.reason for bad in caught.value.bad]
    assert reasons[0].startswith("bhxh_code:") and reasons[1].startswith("phone:")
    assert "columns" in reasons[2]
    shown = str(caught.value) + " ".join(reasons)
    assert not [value for value in BAD_CONTENT if value in shown]
    assert not (state / "snapshot" / "current.db").exists()


def test_a_failed_import_leaves_the_installed_snapshot_alone(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = import_csv(_csv(tmp_path, GOOD), state, params=FAST, workers=1)
    before = first.snapshot.read_bytes()
    with pytest.raises(SnapshotImportError):
        import_csv(_csv(tmp_path, WITH_BAD, name="bad.csv"), state, params=FAST, workers=1)
    assert first.snapshot.read_bytes() == before
    leftovers = sorted(p.name for p in (state / "snapshot").iterdir())
    assert leftovers == ["current.db", "install.lock"]


def test_skip_bad_imports_the_good_rows(tmp_path: Path) -> None:
    report = import_csv(_csv(tmp_path, WITH_BAD), tmp_path / "state", params=FAST, workers=1,
                        skip_bad=True)
    assert report.rows == 2
    assert [bad.line for bad in report.bad] == [3, 5, 6]
    with Snapshot.open(report.snapshot) as snapshot:
        assert snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001")
        assert snapshot.lookup("0112345604", "+842438234567") == Match(None)


def test_a_second_import_keeps_the_first_as_previous(tmp_path: Path) -> None:
    state = tmp_path / "state"
    import_csv(_csv(tmp_path, GOOD), state, params=FAST, workers=1)
    second = import_csv(_csv(tmp_path, "3112345602,+84 98 765 4321,VSS-0003\n", name="new.csv"),
                        state, params=FAST, workers=1)
    assert second.previous == state / "snapshot" / "previous.db"
    with Snapshot.open(second.snapshot) as current, Snapshot.open(second.previous) as previous:
        assert current.lookup("3112345602", "+84987654321") == Match("VSS-0003")
        assert current.lookup("0123456789", "+84912345678") is None
        assert previous.lookup("0123456789", "+84912345678") == Match("VSS-0001")
    assert sorted(p.name for p in (state / "snapshot").iterdir()) == [
        "current.db", "install.lock", "previous.db"]


@pytest.mark.parametrize(
    "text,bom,header",
    [
        (GOOD, False, False),
        (GOOD, True, False),
        ("bhxh_code,phone,account_ref\n" + GOOD, True, True),
        ("Mã số BHXH,Số điện thoại\r\n\r\n" + GOOD.replace("\n", "\r\n") + "\r\n  \r\n", False, True),
    ],
)
def test_header_and_bom_are_optional(tmp_path: Path, text: str, bom: bool, header: bool) -> None:
    report = import_csv(_csv(tmp_path, text, bom=bom), tmp_path / "state", params=FAST, workers=1)
    assert (report.rows, report.header) == (2, header)
    with Snapshot.open(report.snapshot) as snapshot:
        assert snapshot.lookup("0123456789", "+84912345678") == Match("VSS-0001")


def test_a_malformed_first_row_is_reported_not_taken_for_a_header(tmp_path: Path) -> None:
    with pytest.raises(SnapshotImportError) as caught:
        import_csv(_csv(tmp_path, "01234x6789,0912345678\n" + GOOD), tmp_path / "state",
                   params=FAST, workers=1)
    assert [bad.line for bad in caught.value.bad] == [1]


def test_duplicates_are_counted(tmp_path: Path) -> None:
    text = GOOD + "7912345601,0362345678,VSS-0002-NEW\n"  # same pair as the renumbered row
    report = import_csv(_csv(tmp_path, text), tmp_path / "state", params=FAST, workers=1)
    assert (report.rows, report.duplicates) == (2, 1)
    with Snapshot.open(report.snapshot) as snapshot:
        assert snapshot.lookup("7912345601", "+84362345678") == Match("VSS-0002-NEW")


def test_state_directories_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    import_csv(_csv(tmp_path, GOOD), state, params=FAST, workers=1)
    for directory in (state, state / "snapshot"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_cli_imports_with_two_workers_and_prints_one_summary_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = _run_cli("--csv", str(EXAMPLE), "--state-dir", str(state), "--kdf-n", "1024",
                      "--workers", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("imported 6 rows (0 duplicates, 0 bad skipped) in ")
    with Snapshot.open(state / "snapshot" / "current.db") as snapshot:
        assert snapshot.meta["kdf_n"] == "1024"
        assert snapshot.lookup("7912345601", "+84362345678") == Match("VSS-0002")


def test_cli_refuses_bad_rows_without_traceback_or_personal_data(tmp_path: Path) -> None:
    bad_lines = "".join(f"01234567{i:02d},09923456{i:02d}\n" for i in range(25))
    csv_path = _csv(tmp_path, WITH_BAD + bad_lines)
    state = tmp_path / "state"
    result = _run_cli("--csv", str(csv_path), "--state-dir", str(state), "--kdf-n", "1024",
                      cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "28 bad row(s)" in result.stderr and "nothing installed" in result.stderr
    listed = [line for line in result.stderr.splitlines() if line.strip().startswith("line ")]
    assert [line.split(":")[0].strip() for line in listed[:3]] == ["line 3", "line 5", "line 6"]
    assert len(listed) == 20 and "... and 8 more" in result.stderr
    assert not [value for value in BAD_CONTENT + ["0992345601"] if value in result.stderr]
    assert not (state / "snapshot" / "current.db").exists()


def test_cli_skip_bad_summarises_what_it_skipped(tmp_path: Path) -> None:
    result = _run_cli("--csv", str(_csv(tmp_path, WITH_BAD)), "--state-dir", str(tmp_path / "s"),
                      "--kdf-n", "1024", "--skip-bad", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "skipped 3 bad row(s)" in result.stderr
    assert result.stdout.startswith("imported 2 rows (0 duplicates, 3 bad skipped)")


@pytest.mark.parametrize(
    "arguments,expected",
    [
        (["--csv", "missing.csv"], "No such file"),
        (["--csv", "accounts.csv", "--kdf-n", "1000"], "power of two"),
        (["--csv", "accounts.csv", "--workers", "0"], "1 or more"),
    ],
)
def test_cli_usage_errors_are_one_line_messages(
    tmp_path: Path, arguments: list[str], expected: str
) -> None:
    _csv(tmp_path, GOOD)
    result = _run_cli(*arguments, "--state-dir", str(tmp_path / "s"), cwd=tmp_path)
    assert result.returncode in (1, 2)
    assert expected in result.stderr and "Traceback" not in result.stderr
