"""Central's side of snapshots: build a signed snapshot from the accounts CSV in one streaming pass.

Bad rows are skipped and reported by line number and reason (never their content); the
report keeps the first ``MAX_LISTED`` and a count, so a 10-million-row file with many bad
rows still runs in bounded memory. ``base`` reuses an earlier snapshot's salt and scrypt
parameters, so that ``snapshot delta`` between the two stays small.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import nacl.signing

from firmware.snapshot import KdfParams, Row, Snapshot, SnapshotError, verify_snapshot
from firmware.snapshot_build import write_snapshot

from . import ProvisioningError
from .snapshot_import import MAX_LISTED, AccountsCsv, BadRow

logger = logging.getLogger(__name__)

PROGRESS_EVERY: Final = 1024


class BuildError(ProvisioningError):
    """The build wrote nothing; the message says why."""


@dataclass
class BuildReport:
    """What a build wrote and what it skipped (the first MAX_LISTED bad rows, and how many in all)."""

    rows: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0
    header: bool = False


def build_from_csv(
    csv_path: Path, out: Path, *, region: str, sequence: int, signing_key: nacl.signing.SigningKey,
    params: KdfParams = KdfParams(), base: Path | None = None, workers: int | None = None,
    strict: bool = False, progress: Callable[[int, int], None] | None = None,
) -> BuildReport:
    """Stream ``csv_path`` into a signed snapshot at ``out``; ``progress(bytes read, file size)``."""
    csv_path, out = Path(csv_path), Path(out)
    salt: bytes | None = None
    if base is not None:
        try:
            meta = verify_snapshot(base, signing_key.verify_key)
        except SnapshotError as exc:
            raise BuildError(f"--base: {exc}") from exc
        if meta["region"] != region or int(meta["sequence"]) >= sequence:
            raise BuildError(f"--base {base} is region {meta['region']!r} sequence {meta['sequence']}; "
                             f"it must be region {region!r} with a sequence below {sequence}")
        with Snapshot.open(base) as snapshot:
            params, salt = snapshot.params, bytes.fromhex(snapshot.meta["salt"])
    try:
        size = os.stat(csv_path).st_size
    except OSError as exc:
        raise BuildError(f"{csv_path}: {exc.strerror or exc}") from exc
    report = BuildReport()
    records = AccountsCsv(csv_path)

    def good_rows() -> Iterator[Row]:
        for line, item in records:
            if isinstance(item, str):
                if strict:
                    raise BuildError(f"line {line}: {item} (--strict: nothing written)")
                report.bad_count += 1
                if len(report.bad) < MAX_LISTED:
                    report.bad.append(BadRow(line, item))
                continue
            yield item

    def on_sealed(done: int) -> None:
        if progress is not None and done % PROGRESS_EVERY < 32:
            progress(records.bytes_read, size)

    try:
        written = write_snapshot(good_rows(), out, params=params, region=region, sequence=sequence,
                                 workers=workers, progress=on_sealed, salt=salt, signing_key=signing_key)
    except ProvisioningError:
        raise
    except SnapshotError as exc:
        raise BuildError(str(exc)) from exc
    if progress is not None:
        progress(size, size)
    if written.rows == 0:
        out.unlink(missing_ok=True)
        raise BuildError(f"{csv_path} has no usable rows ({report.bad_count} bad); nothing written")
    report.rows, report.duplicates, report.seconds = written.rows, written.duplicates, written.seconds
    report.header = records.header
    logger.info("built %s: region %s sequence %d, %d rows, %d duplicates, %d bad skipped, %.1f s",
                out, region, sequence, report.rows, report.duplicates, report.bad_count, report.seconds)
    return report
