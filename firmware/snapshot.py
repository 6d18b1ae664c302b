"""The sealed snapshot: which (insurance code, phone) pairs exist, without holding either.

Each row is keyed by a salted scrypt of ``"{code}|{phone_e164}"``; the account reference
is encrypted under the other half of the same derived key. The file therefore reveals
its row count and nothing else unless an attacker pays one scrypt per guessed pair.
The exact format is in docs/snapshot-format.md.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Final

import nacl.bindings
import nacl.exceptions
import nacl.secret
import nacl.signing

from firmware import FirmwareError

logger = logging.getLogger(__name__)

FORMAT_VERSION: Final = "2"        # what central builds: signed
LOCAL_FORMAT_VERSION: Final = "1"  # a local `snapshot import`: unsigned, trusted because a technician ran it
KDF_NAME: Final = "scrypt"
SALT_BYTES: Final = 16
PAD_BLOCK: Final = 32
NONCE_PERSON: Final = b"resetline-nonce"  # blake2b personalisation, part of the format
LOOKUP_BYTES: Final = 32
CHUNK_ROWS: Final = 32
META_KEYS: Final = (
    "format_version", "kdf", "kdf_n", "kdf_r", "kdf_p", "salt",
    "region", "sequence", "built_at", "row_count",
)
SIGNED_META_KEYS: Final = (*META_KEYS, "kind", "signing_key", "signature")
SIGNED_PREFIX: Final = b"resetline-snapshot-v2\n"
DIGEST_BATCH: Final = 4096
SCHEMA: Final = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE accounts(lookup BLOB PRIMARY KEY, sealed_ref BLOB NOT NULL) WITHOUT ROWID",
)
# (name, declared type, not null, primary key) per column, as PRAGMA table_info reports
# (a WITHOUT ROWID primary key is NOT NULL implicitly).
_SHAPE: Final = {
    "meta": [("key", "TEXT", 0, 1), ("value", "TEXT", 1, 0)],
    "accounts": [("lookup", "BLOB", 1, 1), ("sealed_ref", "BLOB", 1, 0)],
}
#: a region name: also a path segment of central's API, so letters, digits, '.', '_' and '-' only
REGION: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CODE_PATTERN: Final = re.compile(r"[0-9]{10}")
E164_PATTERN: Final = re.compile(r"\+[1-9][0-9]{6,14}")

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


def unseal_ref(box_key: bytes, sealed: bytes) -> str | None:
    try:
        padded = nacl.secret.SecretBox(box_key).decrypt(sealed)
        text = nacl.bindings.sodium_unpad(padded, PAD_BLOCK).decode("utf-8")
    except (nacl.exceptions.CryptoError, UnicodeDecodeError) as exc:
        raise SnapshotError("sealed account reference fails to open: damaged or tampered") from exc
    return text or None


def seal_chunk(chunk: list[Row], salt: bytes, params: KdfParams) -> list[tuple[bytes, bytes]]:
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
        return Match(unseal_ref(key[LOOKUP_BYTES:], found[0]))

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The open connection, held exclusively (verification scans, deltas)."""
        with self._lock:
            if self._conn is None:
                raise SnapshotError("snapshot is closed")
            yield self._conn

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
    check_tables(conn, path, _SHAPE)
    meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
    version = meta.get("format_version")
    if version not in (FORMAT_VERSION, LOCAL_FORMAT_VERSION):
        raise SnapshotError(f"snapshot {path} has format_version {version!r}; this firmware reads "
                            f"{LOCAL_FORMAT_VERSION!r} (local import) and {FORMAT_VERSION!r} (signed)")
    expected = SIGNED_META_KEYS if version == FORMAT_VERSION else META_KEYS
    missing = [k for k in expected if k not in meta]
    if missing:
        raise SnapshotError(f"snapshot {path} meta is missing {', '.join(missing)}: damaged or tampered")
    if version == FORMAT_VERSION:
        check_objects(conn, path, {"meta", "accounts"})
        extra = sorted(set(meta) - set(expected))
        if extra or meta["kind"] != "snapshot":
            raise SnapshotError(f"snapshot {path} meta has unexpected keys or kind: damaged or tampered")
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


def check_tables(conn: sqlite3.Connection, path: Path,
                  shapes: Mapping[str, list[tuple[str, str, int, int]]]) -> None:
    for table, shape in shapes.items():
        columns = [(c[1], str(c[2]).upper(), c[3], c[5])
                   for c in conn.execute(f"PRAGMA table_info({table})")]
        if not columns:
            raise SnapshotError(f"not a snapshot: {path} has no '{table}' table")
        if columns != shape:
            raise SnapshotError(f"not a snapshot: {path} table '{table}' has the wrong columns")


def check_objects(conn: sqlite3.Connection, path: Path, tables: set[str]) -> None:
    """A signed file holds exactly its tables (and their automatic indexes): no views, triggers or extras."""
    objects = {(str(kind), str(name)) for kind, name in
               conn.execute("SELECT type, name FROM sqlite_master")}
    allowed = {("table", t) for t in tables} | {("index", f"sqlite_autoindex_{t}_1") for t in tables}
    if not objects <= allowed or not {("table", t) for t in tables} <= objects:
        raise SnapshotError(f"{path} holds unexpected database objects: damaged or tampered")


def rows_digest(conn: sqlite3.Connection, table: str, columns: str) -> bytes:
    """SHA-256 over a table's rows in ascending key order; each column as 8 lower-case hex digits of its length, then
    its bytes. One or two BLOB columns (``CAST(text AS BLOB)`` for text)."""
    width = len(columns.split(","))
    if width not in (1, 2):
        raise SnapshotError(f"rows_digest takes one or two columns, got {columns!r}")
    digest = hashlib.sha256()
    cursor = conn.execute(f"SELECT {columns} FROM {table} ORDER BY 1")
    while batch := cursor.fetchmany(DIGEST_BATCH):
        if width == 2:
            digest.update(b"".join([b"%08x%s%08x%s" % (len(a), a, len(b), b) for a, b in batch]))
        else:
            digest.update(b"".join([b"%08x%s" % (len(a), a) for (a,) in batch]))
    return digest.digest()


def signed_message(prefix: bytes, meta: Mapping[str, str], digests: Mapping[str, bytes]) -> bytes:
    """What the Ed25519 signature covers: prefix, meta lines sorted by key (signature excluded), digests."""
    lines = [prefix]
    for key in sorted(meta):
        if key != "signature":
            lines.append(f"{key}={meta[key]}\n".encode("utf-8"))
    for name in sorted(digests):
        lines.append(f"{name} {digests[name].hex()}\n".encode("ascii"))
    return b"".join(lines)


def check_signature(message: bytes, meta: Mapping[str, str], verify_key: nacl.signing.VerifyKey,
                    what: str) -> None:
    """Refuse unless ``meta['signature']`` is ``verify_key``'s Ed25519 signature of ``message``."""
    if any("\n" in key or "\n" in value for key, value in meta.items()):
        raise SnapshotError(f"{what}: a meta value holds a line break: damaged or tampered")
    if meta.get("signing_key") != bytes(verify_key).hex():
        raise SnapshotError(f"{what} is signed by another key ({meta.get('signing_key', '')[:16]}…), "
                            f"not the configured central key ({bytes(verify_key).hex()[:16]}…)")
    try:
        verify_key.verify(message, bytes.fromhex(meta["signature"]))
    except (ValueError, nacl.exceptions.BadSignatureError) as exc:
        raise SnapshotError(f"{what}: signature does not match its content: damaged or tampered") from exc


def verify_snapshot(path: Path, verify_key: nacl.signing.VerifyKey) -> dict[str, str]:
    """Check the file's format, content digest and central's signature; return its meta."""
    with Snapshot.open(path) as snapshot:
        meta = dict(snapshot.meta)
        if meta["format_version"] != FORMAT_VERSION:
            raise SnapshotError(f"{path} is an unsigned local import (format {meta['format_version']}); "
                                "only a snapshot signed by central can be installed")
        try:
            with snapshot.reading() as conn:
                digest = rows_digest(conn, "accounts", "lookup, sealed_ref")
        except sqlite3.DatabaseError as exc:
            raise SnapshotError(f"{path} cannot be read whole ({exc}): truncated or damaged") from exc
    check_signature(signed_message(SIGNED_PREFIX, meta, {"accounts": digest}), meta, verify_key,
                    f"snapshot {path}")
    return meta
