"""Writing a snapshot: rows are sealed in a process pool, staged, sorted by key, then signed.

Bounded memory for any row count: sealed chunks are appended to a staging database beside
the output, and SQLite's external sorter moves them into ``accounts`` in key order (a
sorted insert, so the B-tree is written once, front to back). Format: docs/snapshot-format.md.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import nacl.signing

from .snapshot import (
    CHUNK_ROWS, CODE_PATTERN, E164_PATTERN, FORMAT_VERSION, KDF_NAME, LOCAL_FORMAT_VERSION, REGION, SALT_BYTES, SCHEMA,
    SIGNED_PREFIX, KdfParams, Row, SnapshotError, WriteReport, rows_digest, seal_chunk, signed_message,
)

logger = logging.getLogger(__name__)

Sealed = list[tuple[bytes, bytes]]


def write_snapshot(
    rows: Iterable[Row], out: Path, *, params: KdfParams = KdfParams(), region: str = "",
    sequence: int = 0, workers: int | None = None,
    progress: Callable[[int], None] | None = None, salt: bytes | None = None,
    signing_key: nacl.signing.SigningKey | None = None,
) -> WriteReport:
    """Seal normalised (code, E.164 phone, account_ref) rows into a new snapshot at ``out``.

    With ``signing_key`` the file is format 2 (signed by central, needs a region); without,
    format 1 (a local import). The file is built beside ``out`` (``.tmp``), fsynced and
    renamed over it atomically. ``salt`` is random unless given (a fixed salt makes builds
    reproducible; central reuses a base snapshot's salt so that deltas stay small).
    """
    started = time.monotonic()
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise SnapshotError(f"salt must be {SALT_BYTES} bytes")
    if sequence < 0:
        raise SnapshotError("sequence must be 0 or more")
    if signing_key is not None and not REGION.fullmatch(region):
        raise SnapshotError(f"region {region!r}: use 1-64 letters, digits, '.', '_' or '-'")
    out = Path(out)
    tmp, stage = out.with_name(out.name + ".tmp"), out.with_name(out.name + ".stage.tmp")
    remove_db(tmp)
    remove_db(stage)
    try:
        conn = create_db(tmp, SCHEMA)
        try:
            total = _stage(stage, rows, salt, params, workers or os.cpu_count() or 1, progress)
            conn.execute("ATTACH DATABASE ? AS stage", (str(stage),))
            conn.execute("INSERT OR REPLACE INTO accounts(lookup, sealed_ref)"
                         " SELECT lookup, sealed_ref FROM stage.rows ORDER BY lookup, seq")
            conn.commit()
            conn.execute("DETACH DATABASE stage")
            remove_db(stage)
            unique = int(conn.execute("SELECT count(*) FROM accounts").fetchone()[0])
            meta = _meta(params, salt, region, sequence, unique, signing_key)
            if signing_key is not None:
                digest = rows_digest(conn, "accounts", "lookup, sealed_ref")
                message = signed_message(SIGNED_PREFIX, meta, {"accounts": digest})
                meta["signature"] = signing_key.sign(message).signature.hex()
            conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", meta.items())
            conn.commit()
        finally:
            conn.close()
        publish(tmp, out)
    except BaseException:
        remove_db(tmp)
        remove_db(stage)
        raise
    report = WriteReport(rows=unique, duplicates=total - unique,
                         seconds=round(time.monotonic() - started, 3))
    logger.info("snapshot written to %s: %d rows, %d duplicates, %.1f s",
                out, report.rows, report.duplicates, report.seconds)
    return report


def create_db(path: Path, schema: Iterable[str]) -> sqlite3.Connection:
    """A new database file (0o600) without a journal: a half-built file is thrown away, never used."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    conn = sqlite3.connect(path)
    # secure_delete zeroes the space of replaced duplicate rows.
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "secure_delete = ON", "cache_size = -32768"):
        conn.execute(f"PRAGMA {pragma}")
    for statement in schema:
        conn.execute(statement)
    return conn


def _stage(stage: Path, rows: Iterable[Row], salt: bytes, params: KdfParams, workers: int,
           progress: Callable[[int], None] | None) -> int:
    """Seal every row into the staging file in input order; return how many rows came in."""
    conn = create_db(stage, ("CREATE TABLE rows(seq INTEGER PRIMARY KEY, lookup BLOB, sealed_ref BLOB)",))
    done = 0

    def store(sealed: Sealed) -> None:
        nonlocal done
        conn.executemany("INSERT INTO rows(lookup, sealed_ref) VALUES (?, ?)", sealed)
        done += len(sealed)
        if progress is not None:
            progress(done)

    try:
        _seal_all(rows, salt, params, workers, store)
        conn.commit()
    finally:
        conn.close()
    return done


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Fixed-size chunks of checked rows; a row that is not normalised stops the build."""
    iterator = iter(rows)
    index = 0
    while chunk := list(itertools.islice(iterator, size)):
        for code, phone, _ref in chunk:
            index += 1
            if not (CODE_PATTERN.fullmatch(code) and E164_PATTERN.fullmatch(phone)):
                raise SnapshotError(f"row {index} is not normalised (10-digit code, E.164 phone)")
        yield chunk


def _seal_all(rows: Iterable[Row], salt: bytes, params: KdfParams, workers: int,
              store: Callable[[Sealed], None]) -> None:
    # About a second of work per chunk at the production cost; a cheap test cost gets larger chunks so that
    # handing chunks to the pool does not dominate.
    chunks = _chunks(rows, CHUNK_ROWS if params.n >= 2**12 else CHUNK_ROWS * 16)
    first = next(chunks, [])
    second = next(chunks, [])
    if workers <= 1 or not second:  # one chunk: a pool would cost more than it saves
        for chunk in itertools.chain((first, second), chunks):
            if chunk:
                store(seal_chunk(chunk, salt, params))
        return
    pool = ProcessPoolExecutor(max_workers=workers)
    pending: deque[Future[Sealed]] = deque()
    try:
        for chunk in itertools.chain((first, second), chunks):
            pending.append(pool.submit(seal_chunk, chunk, salt, params))
            if len(pending) >= 4 * workers:  # bounded memory: a few chunks in flight
                store(pending.popleft().result())
        while pending:
            store(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _meta(params: KdfParams, salt: bytes, region: str, sequence: int, row_count: int,
          signing_key: nacl.signing.SigningKey | None) -> dict[str, str]:
    built_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    meta = {
        "format_version": LOCAL_FORMAT_VERSION, "kdf": KDF_NAME, "kdf_n": str(params.n),
        "kdf_r": str(params.r), "kdf_p": str(params.p), "salt": salt.hex(), "region": region,
        "sequence": str(sequence), "built_at": built_at, "row_count": str(row_count),
    }
    if signing_key is not None:
        meta.update(format_version=FORMAT_VERSION, kind="snapshot",
                    signing_key=bytes(signing_key.verify_key).hex())
    return meta


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, out: Path) -> None:
    """fsync ``tmp``, rename it over ``out`` and fsync the directory: ``out`` is old or new, never half."""
    fsync_path(tmp)
    os.replace(tmp, out)
    fsync_path(out.parent)


def remove_db(path: Path) -> None:
    for leftover in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
