"""Deltas: the rows that changed between two snapshots of one lineage, signed, for exactly one base sequence.

A delta holds NEW's whole meta (with NEW's own signature), the rows to upsert and the
lookup keys to remove. Applying it to the base gives a file whose content — and so whose
signature check — is NEW's: the box verifies the result exactly as it verifies a full
snapshot. Both snapshots must share salt and scrypt parameters (central builds NEW with
``--base OLD``), otherwise every key differs and only a full file makes sense.
Format: docs/snapshot-format.md, "Deltas".
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

import nacl.signing

from .snapshot import (
    FORMAT_VERSION, SnapshotError, check_objects, check_tables, check_signature, rows_digest,
    signed_message, verify_snapshot,
)
from .snapshot_build import create_db, publish, remove_db

logger = logging.getLogger(__name__)

DELTA_PREFIX: Final = b"resetline-delta-v2\n"
DELTA_META_KEYS: Final = ("format_version", "kind", "region", "base_sequence", "sequence", "upserts",
                          "removals", "built_at", "signing_key", "signature")
DELTA_SCHEMA: Final = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE new_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE upserts(lookup BLOB PRIMARY KEY, sealed_ref BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE removals(lookup BLOB PRIMARY KEY) WITHOUT ROWID",
)
_DELTA_SHAPE: Final = {
    "meta": [("key", "TEXT", 0, 1), ("value", "TEXT", 1, 0)],
    "new_meta": [("key", "TEXT", 0, 1), ("value", "TEXT", 1, 0)],
    "upserts": [("lookup", "BLOB", 1, 1), ("sealed_ref", "BLOB", 1, 0)],
    "removals": [("lookup", "BLOB", 1, 1)],
}
_BATCH: Final = 4096
_LINEAGE: Final = ("region", "salt", "kdf", "kdf_n", "kdf_r", "kdf_p")


def is_delta(path: Path) -> bool:
    """Whether ``path`` is a delta file (has an ``upserts`` table) rather than a full snapshot."""
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'upserts'").fetchone() is not None
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise SnapshotError(f"{path} is not a readable SQLite database ({exc}): truncated or damaged") from exc


def _rows(conn: sqlite3.Connection, schema: str) -> Iterator[tuple[bytes, bytes]]:
    cursor = conn.execute(f"SELECT lookup, sealed_ref FROM {schema}.accounts ORDER BY lookup")
    while batch := cursor.fetchmany(_BATCH):
        yield from batch


def _diff(out: sqlite3.Connection) -> tuple[int, int]:
    """Merge-join the attached ``old`` and ``new`` in key order (bounded memory); write upserts and removals."""
    upserts: list[tuple[bytes, bytes]] = []
    removals: list[tuple[bytes]] = []
    counts = [0, 0]

    def flush(final: bool = False) -> None:
        if final or len(upserts) >= _BATCH:
            out.executemany("INSERT INTO upserts VALUES (?, ?)", upserts)
            counts[0] += len(upserts)
            upserts.clear()
        if final or len(removals) >= _BATCH:
            out.executemany("INSERT INTO removals VALUES (?)", removals)
            counts[1] += len(removals)
            removals.clear()

    old_rows, new_rows = _rows(out, "old"), _rows(out, "new")
    a, b = next(old_rows, None), next(new_rows, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a[0] < b[0]):
            assert a is not None
            removals.append((a[0],))
            a = next(old_rows, None)
        elif a is None or b[0] < a[0]:
            assert b is not None
            upserts.append(b)
            b = next(new_rows, None)
        else:
            if a[1] != b[1]:
                upserts.append(b)
            a, b = next(old_rows, None), next(new_rows, None)
        flush()
    flush(final=True)
    return counts[0], counts[1]


def make_delta(old: Path, new: Path, signing_key: nacl.signing.SigningKey, out: Path) -> dict[str, str]:
    """Write the signed delta that turns ``old`` into ``new``; both must be central's, of one lineage."""
    verify_key = signing_key.verify_key
    old_meta, new_meta = verify_snapshot(old, verify_key), verify_snapshot(new, verify_key)
    differing = [key for key in _LINEAGE if old_meta[key] != new_meta[key]]
    if differing:
        raise SnapshotError(f"{new} differs from {old} in {', '.join(differing)}: a delta needs the same region, "
                            "salt and scrypt parameters (build NEW with --base OLD), or ship the full file")
    if int(new_meta["sequence"]) <= int(old_meta["sequence"]):
        raise SnapshotError(f"{new} (sequence {new_meta['sequence']}) is not newer than {old} "
                            f"(sequence {old_meta['sequence']})")
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    remove_db(tmp)
    try:
        conn = create_db(tmp, DELTA_SCHEMA)
        try:
            conn.executemany("INSERT INTO new_meta VALUES (?, ?)", new_meta.items())
            for alias, path in (("old", old), ("new", new)):
                conn.execute(f"ATTACH DATABASE ? AS {alias}", (str(path.resolve()),))
            upserts, removals = _diff(conn)
            conn.commit()
            for alias in ("old", "new"):
                conn.execute(f"DETACH DATABASE {alias}")
            built_at = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
            meta = {"format_version": FORMAT_VERSION, "kind": "delta", "region": new_meta["region"],
                    "base_sequence": old_meta["sequence"], "sequence": new_meta["sequence"],
                    "upserts": str(upserts), "removals": str(removals), "built_at": built_at,
                    "signing_key": bytes(verify_key).hex()}
            meta["signature"] = signing_key.sign(_message(conn, meta)).signature.hex()
            conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            conn.commit()
        finally:
            conn.close()
        publish(tmp, out)
    except BaseException:
        remove_db(tmp)
        raise
    logger.info("delta %s: sequence %s -> %s, %d upserts, %d removals", out, meta["base_sequence"],
                meta["sequence"], upserts, removals)
    return meta


def _message(conn: sqlite3.Connection, meta: dict[str, str]) -> bytes:
    digests = {
        "new_meta": rows_digest(conn, "new_meta", "CAST(key AS BLOB), CAST(value AS BLOB)"),
        "upserts": rows_digest(conn, "upserts", "lookup, sealed_ref"),
        "removals": rows_digest(conn, "removals", "lookup"),
    }
    return signed_message(DELTA_PREFIX, meta, digests)


def verify_delta(path: Path, verify_key: nacl.signing.VerifyKey) -> tuple[dict[str, str], dict[str, str]]:
    """Check a delta's shape and signature; return (its meta, the meta of the snapshot it produces)."""
    try:
        conn = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SnapshotError(f"cannot open delta {path}: {exc}") from exc
    try:
        conn.execute("PRAGMA query_only = ON")
        check_tables(conn, path, _DELTA_SHAPE)
        check_objects(conn, path, set(_DELTA_SHAPE))
        meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        new_meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM new_meta")}
        if sorted(meta) != sorted(DELTA_META_KEYS) or meta["kind"] != "delta" \
                or meta["format_version"] != FORMAT_VERSION:
            raise SnapshotError(f"delta {path} meta is not a format {FORMAT_VERSION} delta's: damaged or tampered")
        message = _message(conn, meta)
    except sqlite3.DatabaseError as exc:
        raise SnapshotError(f"delta {path} cannot be read whole ({exc}): truncated or damaged") from exc
    finally:
        conn.close()
    check_signature(message, meta, verify_key, f"delta {path}")
    return meta, new_meta


def apply_delta(delta: Path, base: Path, out: Path, verify_key: nacl.signing.VerifyKey) -> dict[str, str]:
    """Write ``base`` + ``delta`` to ``out`` and verify the result as NEW; returns NEW's meta."""
    meta, new_meta = verify_delta(delta, verify_key)
    with sqlite3.connect(Path(base).resolve().as_uri() + "?mode=ro", uri=True) as probe:
        base_meta = {str(k): str(v) for k, v in probe.execute("SELECT key, value FROM meta")}
    if base_meta.get("sequence", "").isdigit() and int(meta["sequence"]) <= int(base_meta["sequence"]):
        raise SnapshotError(f"sequence {meta['sequence']} is not newer than the installed sequence "
                            f"{base_meta['sequence']}")
    if base_meta.get("sequence") != meta["base_sequence"]:
        raise SnapshotError(f"delta {delta} applies to sequence {meta['base_sequence']}, "
                            f"but the installed snapshot is sequence {base_meta.get('sequence')}")
    out = Path(out)
    remove_db(out)
    try:
        shutil.copyfile(base, out)
        conn = sqlite3.connect(out)
        try:
            for pragma in ("journal_mode = OFF", "synchronous = OFF", "secure_delete = ON"):
                conn.execute(f"PRAGMA {pragma}")
            conn.execute("ATTACH DATABASE ? AS d", (str(Path(delta).resolve()),))
            conn.execute("DELETE FROM accounts WHERE lookup IN (SELECT lookup FROM d.removals)")
            conn.execute("INSERT OR REPLACE INTO accounts SELECT lookup, sealed_ref FROM d.upserts")
            conn.execute("DELETE FROM meta")
            conn.execute("INSERT INTO meta SELECT key, value FROM d.new_meta")
            conn.commit()
            conn.execute("DETACH DATABASE d")
        finally:
            conn.close()
        result = verify_snapshot(out, verify_key)
    except sqlite3.DatabaseError as exc:
        remove_db(out)
        raise SnapshotError(f"delta {delta} cannot be applied ({exc}): damaged") from exc
    except SnapshotError as exc:
        remove_db(out)
        raise SnapshotError(f"delta {delta} on sequence {meta['base_sequence']} does not give sequence "
                            f"{new_meta.get('sequence')}: {exc}") from exc
    except BaseException:
        remove_db(out)
        raise
    return result
