"""``resetline snapshot import``: a local CSV of accounts becomes the box's sealed snapshot.

The CSV holds ``bhxh_code,phone[,account_ref]`` rows (UTF-8, BOM optional, header
optional). A first pass checks every row before any slow hashing, so a bad file fails
fast and installs nothing; the second pass streams the normalised rows into
``write_snapshot``. Rows are personal data: reports name a line and a reason, never
the row's content (masked digits at most).
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from firmware import FirmwareError
from firmware.insurance_code import InsuranceCodeError, check_code
from firmware.phone import PhoneNumberError, normalise_phone
from firmware.snapshot import KdfParams, Row
from firmware.snapshot_build import write_snapshot

from . import ProvisioningError
from .snapshot_install import InstallError, install_lock, snapshot_dir, swap_in

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR: Final = Path("/var/lib/resetline")
MAX_LISTED: Final = 20
MAX_REF_BYTES: Final = 255


@dataclass(frozen=True)
class BadRow:
    """A CSV record that cannot be imported: its (last) line number and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """What an import installed; ``bad`` lists the rows skipped with ``skip_bad``."""

    rows: int
    duplicates: int
    seconds: float
    bad: tuple[BadRow, ...]
    header: bool
    snapshot: Path
    previous: Path | None


class SnapshotImportError(ProvisioningError):
    """The import installed nothing; ``bad`` holds the offending rows, if that was the cause."""

    def __init__(self, message: str, bad: tuple[BadRow, ...] = ()) -> None:
        super().__init__(message)
        self.bad = bad


def _normalise(cells: list[str]) -> Row | str:
    """A normalised row, or the reason it is bad (no row content in the reason)."""
    while len(cells) > 3 and not cells[-1].strip():
        cells = cells[:-1]  # trailing empty columns, as spreadsheets write them
    if len(cells) not in (2, 3):
        return f"expected 2 or 3 columns, got {len(cells)}"
    try:
        code = check_code(cells[0])
    except InsuranceCodeError as exc:
        return f"bhxh_code: {exc}"
    try:
        phone = normalise_phone(cells[1])
    except PhoneNumberError as exc:
        return f"phone: {exc}"
    ref = cells[2].strip() if len(cells) == 3 else ""
    if len(ref.encode("utf-8")) > MAX_REF_BYTES:
        return f"account_ref: longer than {MAX_REF_BYTES} bytes"
    return code, phone, ref or None


def _is_header(cells: list[str]) -> bool:
    """A first record whose code column has no digit at all is a header ("bhxh_code")."""
    return not any(ch.isdigit() for ch in cells[0])


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read through it (for a progress bar while streaming)."""

    def __init__(self, raw: io.FileIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        self.count += n or 0
        return n or 0


class AccountsCsv:
    """Iterates (line, row-or-reason) over the file's records; notes whether it had a header."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header = False
        self.bytes_read = 0

    def __iter__(self) -> Iterator[tuple[int, Row | str]]:
        try:
            with open(self.path, "rb", buffering=0) as raw:
                counted = _CountingReader(raw)
                handle = io.TextIOWrapper(io.BufferedReader(counted, 1 << 16), encoding="utf-8-sig", newline="")
                reader = csv.reader(handle)
                first = True
                for cells in reader:
                    if not any(cell.strip() for cell in cells):
                        continue
                    if first:
                        first = False
                        if _is_header(cells):
                            self.header = True
                            continue
                    self.bytes_read = counted.count
                    yield reader.line_num, _normalise(cells)
        except UnicodeDecodeError as exc:
            raise SnapshotImportError(f"{self.path} is not UTF-8 text (byte {exc.start})") from exc
        except csv.Error as exc:
            raise SnapshotImportError(f"{self.path} is not readable CSV ({exc})") from exc


def _scan(path: Path) -> tuple[int, tuple[BadRow, ...], bool]:
    """First pass: (good rows, bad rows, had a header), without any hashing."""
    records = AccountsCsv(path)
    good = 0
    bad: list[BadRow] = []
    for line, item in records:
        if isinstance(item, str):
            bad.append(BadRow(line, item))
        else:
            good += 1
    return good, tuple(bad), records.header


def _good_rows(path: Path, known_bad: tuple[BadRow, ...]) -> Iterator[Row]:
    """Second pass: the good rows; a bad row the first pass did not see means the file changed."""
    expected = set(known_bad)
    for line, item in AccountsCsv(path):
        if isinstance(item, str):
            if BadRow(line, item) not in expected:
                raise SnapshotImportError(f"{path} changed during the import; nothing installed")
            continue
        yield item


def import_csv(
    csv_path: Path, state_dir: Path, *, params: KdfParams = KdfParams(), skip_bad: bool = False,
    workers: int | None = None, progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Seal ``csv_path`` into ``<state_dir>/snapshot/current.db`` (the old one kept as previous.db).

    Without ``skip_bad`` any bad row raises SnapshotImportError and nothing is installed.
    ``progress(done, total)`` is called as rows are sealed.
    """
    csv_path, state_dir = Path(csv_path), Path(state_dir)
    good, bad, header = _scan(csv_path)
    if bad and not skip_bad:
        raise SnapshotImportError(f"{len(bad)} bad row(s) in {csv_path}; nothing installed", bad)
    if good == 0:
        raise SnapshotImportError(f"{csv_path} has no importable rows; nothing installed", bad)
    directory = snapshot_dir(state_dir)
    incoming = directory / "incoming.db"
    try:
        with install_lock(directory):
            try:
                written = write_snapshot(
                    _good_rows(csv_path, bad), incoming, params=params, workers=workers,
                    progress=None if progress is None else (lambda done: progress(done, good)),
                )
                if written.rows + written.duplicates != good:
                    raise SnapshotImportError(f"{csv_path} changed during the import; nothing installed")
                previous = swap_in(incoming, directory)
            finally:
                incoming.unlink(missing_ok=True)
    except InstallError as exc:
        raise SnapshotImportError(str(exc)) from exc
    logger.info("snapshot import: %d rows, %d duplicates, %d bad skipped, %.1f s",
                written.rows, written.duplicates, len(bad), written.seconds)
    return ImportReport(rows=written.rows, duplicates=written.duplicates, seconds=written.seconds,
                        bad=bad, header=header, snapshot=directory / "current.db",
                        previous=previous)


def _list_bad(bad: tuple[BadRow, ...]) -> None:
    for row in bad[:MAX_LISTED]:
        print(f"  line {row.line}: {row.reason}", file=sys.stderr)
    if len(bad) > MAX_LISTED:
        print(f"  ... and {len(bad) - MAX_LISTED} more", file=sys.stderr)


def _terminal_progress(done: int, total: int) -> None:
    print(f"\r  sealed {done}/{total} rows", end="" if done < total else "\n",
          file=sys.stderr, flush=True)


def run_import(args: argparse.Namespace) -> int:
    """The ``snapshot import`` command: 0 when installed, 1 when nothing was installed."""
    try:
        report = import_csv(
            args.csv, args.state_dir, params=KdfParams(n=args.kdf_n), skip_bad=args.skip_bad,
            workers=args.workers, progress=_terminal_progress if sys.stderr.isatty() else None,
        )
    except SnapshotImportError as exc:
        print(f"snapshot import: {exc}", file=sys.stderr)
        _list_bad(exc.bad)
        return 1
    except (ProvisioningError, FirmwareError, OSError) as exc:
        print(f"snapshot import: {exc}; nothing installed", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nsnapshot import: interrupted; nothing installed", file=sys.stderr)
        return 130
    if report.bad:
        print(f"snapshot import: skipped {len(report.bad)} bad row(s):", file=sys.stderr)
        _list_bad(report.bad)
    print(f"imported {report.rows} rows ({report.duplicates} duplicates, "
          f"{len(report.bad)} bad skipped) in {report.seconds:.1f} s -> {report.snapshot}")
    return 0


def count_arg(text: str, *, power_of_two: bool = False) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1 or (power_of_two and (value < 2 or value & (value - 1))):
        kind = "a power of two, 2 or more" if power_of_two else "1 or more"
        raise argparse.ArgumentTypeError(f"must be {kind}, got {value}")
    return value


def add_parser(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``snapshot import`` (local, unsigned: build + install in one step on the box)."""
    imp = actions.add_parser(
        "import", help="seal a local CSV of accounts into the box's snapshot (unsigned, for local use)",
        description="Seal bhxh_code,phone[,account_ref] rows into <state-dir>/snapshot/current.db without "
                    "central's signature (format 1: the technician on the box is the trust); "
                    "the snapshot it replaces is kept as previous.db.")
    imp.add_argument("--csv", type=Path, required=True, metavar="FILE",
                     help="UTF-8 CSV (BOM and header row optional)")
    imp.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, metavar="DIR",
                     help=f"the box's state directory (default {DEFAULT_STATE_DIR})")
    imp.add_argument("--skip-bad", action="store_true",
                     help="import the good rows and list the bad ones instead of aborting")
    imp.add_argument("--kdf-n", type=lambda t: count_arg(t, power_of_two=True), default=KdfParams().n,
                     metavar="N", help=f"scrypt cost N (default {KdfParams().n})")
    imp.add_argument("--workers", type=count_arg, default=None, metavar="N",
                     help="processes deriving keys (default: one per CPU)")
    imp.set_defaults(func=run_import)
