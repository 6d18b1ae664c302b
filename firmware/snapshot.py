"""The sealed snapshot: which (insurance code, phone) pairs exist, without holding either.

Each row is keyed by a salted scrypt of ``"{code}|{phone_e164}"``; the account reference
is encrypted under the other half of the same derived key. The file therefore reveals
its row count and nothing else unless an attacker pays one scrypt per guessed pair.
The exact format is in docs/snapshot-format.md.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.secret

from firmware import FirmwareError

logger = logging.getLogger(__name__)

FORMAT_VERSION: Final = "1"
KDF_NAME: Final = "scrypt"
SALT_BYTES: Final = 16
PAD_BLOCK: Final = 32
NONCE_PERSON: Final = b"resetline-nonce"  # blake2b personalisation, part of format 1
LOOKUP_BYTES: Final = 32
CHUNK_ROWS: Final = 32
META_KEYS: Final = (
    "format_version", "kdf", "kdf_n", "kdf_r", "kdf_p", "salt",
    "region", "sequence", "built_at", "row_count",
)
_SCHEMA: Final = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE accounts(lookup BLOB PRIMARY KEY, sealed_ref BLOB NOT NULL) WITHOUT ROWID",
)
# (name, declared type, not null, primary key) per column, as PRAGMA table_info reports
# (a WITHOUT ROWID primary key is NOT NULL implicitly).
_SHAPE: Final = {
    "meta": [("key", "TEXT", 0, 1), ("value", "TEXT", 1, 0)],
    "accounts": [("lookup", "BLOB", 1, 1), ("sealed_ref", "BLOB", 1, 0)],
}
_CODE: Final = re.compile(r"[0-9]{10}")
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")

Row = tuple[str, str, str | None]


class SnapshotError(FirmwareError):
    """The snapshot cannot be read, is damaged or tampered, or cannot be written."""


@dataclass(frozen=True)
class KdfParams:
    """scrypt cost parameters; checked on creation so a tampered file cannot exhaust memory."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if not (2 <= self.n <= 2**20 and self.n & (self.n - 1) == 0):
            raise SnapshotError(f"scrypt n must be a power of two from 2 to 2**20, got {self.n}")
        if not (1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise SnapshotError(f"scrypt r/p out of range (r={self.r}, p={self.p})")

    @property
    def maxmem(self) -> int:
        """OpenSSL's memory ceiling for these parameters, with a margin."""
        return 128 * self.r * (self.n + self.p + 2) + 2**20


@dataclass(frozen=True)
class Match:
    """A (code, phone) pair present in the snapshot, with its account reference if any."""

    account_ref: str | None


@dataclass(frozen=True)
class WriteReport:
    """What write_snapshot did: unique rows written, duplicate pairs dropped, wall time."""

    rows: int
    duplicates: int
    seconds: float


def row_key(code: str, phone_e164: str, salt: bytes, params: KdfParams) -> bytes:
    """The 64-byte scrypt output for one pair: lookup key, then SecretBox key."""
    return hashlib.scrypt(
        f"{code}|{phone_e164}".encode(), salt=salt, n=params.n, r=params.r, p=params.p,
        dklen=LOOKUP_BYTES + nacl.secret.SecretBox.KEY_SIZE, maxmem=params.maxmem,
    )


def _nonce(lookup: bytes) -> bytes:
    """Deterministic nonce: each row key encrypts exactly one message, so reuse cannot occur."""
    return hashlib.blake2b(
        lookup, digest_size=nacl.secret.SecretBox.NONCE_SIZE, person=NONCE_PERSON
    ).digest()


def seal_row(code: str, phone_e164: str, account_ref: str | None,
             salt: bytes, params: KdfParams) -> tuple[bytes, bytes]:
    """(lookup, sealed_ref) for one row; sealed_ref is nonce || ciphertext || MAC."""
    key = row_key(code, phone_e164, salt, params)
    lookup, box_key = key[:LOOKUP_BYTES], key[LOOKUP_BYTES:]
    padded = nacl.bindings.sodium_pad((account_ref or "").encode("utf-8"), PAD_BLOCK)
    sealed = nacl.secret.SecretBox(box_key).encrypt(padded, _nonce(lookup))
    return lookup, bytes(sealed)


def _unseal(box_key: bytes, sealed: bytes) -> str | None:
    try:
        padded = nacl.secret.SecretBox(box_key).decrypt(sealed)
        text = nacl.bindings.sodium_unpad(padded, PAD_BLOCK).decode("utf-8")
    except (nacl.exceptions.CryptoError, UnicodeDecodeError) as exc:
        raise SnapshotError("sealed account reference fails to open: damaged or tampered") from exc
    return text or None


def _seal_chunk(chunk: list[Row], salt: bytes, params: KdfParams) -> list[tuple[bytes, bytes]]:
    """Worker entry point (runs in a pool process)."""
    return [seal_row(code, phone, ref, salt, params) for code, phone, ref in chunk]


class Snapshot:
    """A read-only, thread-safe view of one snapshot file. Use :meth:`open`."""

    def __init__(self, path: Path, conn: sqlite3.Connection, meta: Mapping[str, str],
                 params: KdfParams, salt: bytes, row_count: int) -> None:
        self.path = path
        self.meta: Mapping[str, str] = MappingProxyType(dict(meta))
        self.params = params
        self.row_count = row_count
        self._salt = salt
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> Snapshot:
        """Open ``path`` read-only and check its format; SnapshotError says what is wrong."""
        path = Path(path)
        if not path.is_file():
            raise SnapshotError(f"snapshot file not found: {path}")
        uri = path.resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise SnapshotError(f"cannot open snapshot {path}: {exc}") from exc
        try:
            conn.execute("PRAGMA query_only = ON")
            meta, params, salt, rows = _check_file(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise SnapshotError(f"not a snapshot: {path} is not a readable SQLite database ({exc})") from exc
        except BaseException:
            conn.close()
            raise
        logger.info("snapshot %s open: %d rows, sequence %s", path, rows, meta["sequence"])
        return cls(path, conn, meta, params, salt, rows)

    def lookup(self, code: str, phone_e164: str) -> Match | None:
        """The match for (code, phone), or None. One scrypt and one indexed query, always."""
        key = row_key(code, phone_e164, self._salt, self.params)  # releases the GIL
        with self._lock:
            if self._conn is None:
                raise SnapshotError("snapshot is closed")
            found = self._conn.execute(
                "SELECT sealed_ref FROM accounts WHERE lookup = ?", (key[:LOOKUP_BYTES],)
            ).fetchone()
        if found is None:
            return None
        return Match(_unseal(key[LOOKUP_BYTES:], found[0]))

    def close(self) -> None:
        """Close the file; further lookups raise SnapshotError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _check_file(conn: sqlite3.Connection, path: Path) -> tuple[dict[str, str], KdfParams, bytes, int]:
    """Validate table shape and meta; return (meta, params, salt, row_count)."""
    for table, shape in _SHAPE.items():
        columns = [(c[1], str(c[2]).upper(), c[3], c[5])
                   for c in conn.execute(f"PRAGMA table_info({table})")]
        if not columns:
            raise SnapshotError(f"not a snapshot: {path} has no '{table}' table")
        if columns != shape:
            raise SnapshotError(f"not a snapshot: {path} table '{table}' has the wrong columns")
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise SnapshotError(f"snapshot {path} meta is missing {', '.join(missing)}: damaged or tampered")
    if meta["format_version"] != FORMAT_VERSION:
        raise SnapshotError(f"snapshot {path} has format_version {meta['format_version']!r}; "
                            f"this firmware reads {FORMAT_VERSION!r}")
    if meta["kdf"] != KDF_NAME:
        raise SnapshotError(f"snapshot {path} uses kdf {meta['kdf']!r}; only {KDF_NAME!r} is known")
    try:
        params = KdfParams(int(meta["kdf_n"]), int(meta["kdf_r"]), int(meta["kdf_p"]))
        salt = bytes.fromhex(meta["salt"])
        declared = int(meta["row_count"])
        int(meta["sequence"])
    except (ValueError, SnapshotError) as exc:
        raise SnapshotError(f"snapshot {path} meta is malformed ({exc}): damaged or tampered") from exc
    if len(salt) != SALT_BYTES:
        raise SnapshotError(f"snapshot {path} salt is not {SALT_BYTES} bytes: damaged or tampered")
    actual = int(conn.execute("SELECT count(*) FROM accounts").fetchone()[0])
    if actual != declared:
        raise SnapshotError(f"snapshot {path} meta says {declared} rows but it holds {actual}: "
                            "damaged or tampered")
    return meta, params, salt, actual


def write_snapshot(
    rows: Iterable[Row], out: Path, *, params: KdfParams = KdfParams(), region: str = "",
    sequence: int = 0, workers: int | None = None,
    progress: Callable[[int], None] | None = None, salt: bytes | None = None,
) -> WriteReport:
    """Seal normalised (code, E.164 phone, account_ref) rows into a new snapshot at ``out``.

    Keys are derived in a process pool, chunk by chunk; the file is built beside ``out``
    (``.tmp``), fsynced and renamed over it atomically. ``salt`` is random unless given
    (a fixed salt makes builds reproducible).
    """
    started = time.monotonic()
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise SnapshotError(f"salt must be {SALT_BYTES} bytes")
    if sequence < 0:
        raise SnapshotError("sequence must be 0 or more")
    out = Path(out)
    tmp = out.with_suffix(".tmp")
    _remove(tmp)
    try:
        conn = _create(tmp)
        try:
            total = _fill(conn, rows, salt, params, workers or os.cpu_count() or 1, progress)
            unique = int(conn.execute("SELECT count(*) FROM accounts").fetchone()[0])
            _write_meta(conn, params, salt, region, sequence, unique)
            conn.commit()
        finally:
            conn.close()
        _fsync_path(tmp)
        os.replace(tmp, out)
        _fsync_path(out.parent)
    except BaseException:
        _remove(tmp)
        raise
    report = WriteReport(rows=unique, duplicates=total - unique,
                         seconds=round(time.monotonic() - started, 3))
    logger.info("snapshot written to %s: %d rows, %d duplicates, %.1f s",
                out, report.rows, report.duplicates, report.seconds)
    return report


def _create(tmp: Path) -> sqlite3.Connection:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    conn = sqlite3.connect(tmp)
    # The .tmp file is discarded on any failure, so no journal is needed while building;
    # secure_delete zeroes the space of replaced duplicate rows.
    for pragma in ("journal_mode = OFF", "synchronous = OFF", "secure_delete = ON",
                   "cache_size = -32768"):
        conn.execute(f"PRAGMA {pragma}")
    for statement in _SCHEMA:
        conn.execute(statement)
    return conn


def _chunks(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """Fixed-size chunks of checked rows; a row that is not normalised stops the build."""
    iterator = iter(rows)
    index = 0
    while chunk := list(itertools.islice(iterator, CHUNK_ROWS)):
        for code, phone, _ref in chunk:
            index += 1
            if not (_CODE.fullmatch(code) and _E164.fullmatch(phone)):
                raise SnapshotError(f"row {index} is not normalised (10-digit code, E.164 phone)")
        yield chunk


def _fill(conn: sqlite3.Connection, rows: Iterable[Row], salt: bytes, params: KdfParams,
          workers: int, progress: Callable[[int], None] | None) -> int:
    """Insert every row (last duplicate wins); return how many rows came in."""
    done = 0

    def store(sealed: list[tuple[bytes, bytes]]) -> None:
        nonlocal done
        conn.executemany("INSERT OR REPLACE INTO accounts(lookup, sealed_ref) VALUES (?, ?)", sealed)
        done += len(sealed)
        if progress is not None:
            progress(done)

    chunks = _chunks(rows)
    first = next(chunks, [])
    second = next(chunks, [])
    if workers <= 1 or not second:  # one chunk: a pool would cost more than it saves
        for chunk in itertools.chain((first, second), chunks):
            if chunk:
                store(_seal_chunk(chunk, salt, params))
        return done
    pool = ProcessPoolExecutor(max_workers=workers)
    pending: deque[Future[list[tuple[bytes, bytes]]]] = deque()
    try:
        for chunk in itertools.chain((first, second), chunks):
            pending.append(pool.submit(_seal_chunk, chunk, salt, params))
            if len(pending) >= 2 * workers:  # bounded memory: a few chunks in flight
                store(pending.popleft().result())
        while pending:
            store(pending.popleft().result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return done


def _write_meta(conn: sqlite3.Connection, params: KdfParams, salt: bytes, region: str,
                sequence: int, row_count: int) -> None:
    built_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    values = {
        "format_version": FORMAT_VERSION, "kdf": KDF_NAME, "kdf_n": str(params.n),
        "kdf_r": str(params.r), "kdf_p": str(params.p), "salt": salt.hex(), "region": region,
        "sequence": str(sequence), "built_at": built_at, "row_count": str(row_count),
    }
    conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", values.items())


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(tmp: Path) -> None:
    for leftover in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
