"""The journal: calls (masked), the reset outbox and lockout counters in one SQLite file.

``<state>/journal.db`` runs in WAL mode with ``synchronous=FULL`` on every connection:
each commit fsyncs the write-ahead log, so a reset row exists on the SD card before
``add_reset`` returns and the password is spoken. One connection serves the daemon's
loop thread and its executor thread, serialised by a lock; every write is an explicit
``BEGIN IMMEDIATE … COMMIT`` and every ``sqlite3`` error surfaces as ``JournalError``.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from firmware import FirmwareError
from firmware.atomic import fsync_dir

log = logging.getLogger(__name__)

OUTCOMES = frozenset(
    {"reset", "mismatch", "locked", "timeout", "invalid_code", "no_caller_id", "caller_hangup", "error"}
)
# A masked number such as "09******78" keeps a handful of digits; anything with more
# looks like a full phone number, which must never be written to the journal.
_MAX_VISIBLE_DIGITS = 6
_BUSY_TIMEOUT_S = 5.0
# An audit detail never carries a run of digits as long as a phone number or an insurance code.
_AUDIT_DIGIT_RUN = re.compile(r"\d{9,}")

MIGRATIONS = Migrations("resetline.journal")


@MIGRATIONS()
def m001_calls(db: Database) -> None:
    db.table("calls").create(
        {
            "id": int,
            "call_ref": str,
            "started_at": float,
            "line": str,
            "caller_masked": str,
            "outcome": str,
            "duration_s": float,
        },
        pk="id",
        not_null=["call_ref", "started_at", "line", "caller_masked", "outcome", "duration_s"],
    )
    db.table("calls").create_index(["started_at"])


@MIGRATIONS()
def m002_outbox(db: Database) -> None:
    # Raw DDL for AUTOINCREMENT: an outbox id must never be reused once sent rows
    # are purged, because central may deduplicate on it.
    db.execute(
        "CREATE TABLE outbox ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " call_ref TEXT NOT NULL,"
        " created_at REAL NOT NULL,"
        " sealed BLOB NOT NULL,"
        " sent_at REAL)"
    )
    db.execute("CREATE INDEX idx_outbox_pending ON outbox (sent_at, id)")


@MIGRATIONS()
def m003_attempts(db: Database) -> None:
    db.table("attempts").create(
        {"id": int, "bucket": str, "at": float}, pk="id", not_null=["bucket", "at"]
    )
    db.table("attempts").create_index(["bucket", "at"])
    db.table("attempts").create_index(["at"])


@MIGRATIONS()
def m004_open_calls(db: Database) -> None:
    # A call is written here when it rings and moved to `calls` when it ends, in one commit; what a crash or a
    # SIGKILL leaves behind is journalled as interrupted at the next start (`close_interrupted`).
    db.table("open_calls").create(
        {"call_ref": str, "started_at": float, "line": str, "caller_masked": str},
        pk="call_ref",
        not_null=["started_at", "line", "caller_masked"],
    )


@MIGRATIONS()
def m005_notices(db: Database) -> None:
    # Post-reset SMS notices waiting for their line (firmware/notices.py). `number` is the caller's number
    # encrypted with a key that lives only in the running daemon's memory (`boot` names that key), so a thief
    # with the SD card reads no number; a row whose key is gone is handed to central instead.
    db.execute(
        "CREATE TABLE notices ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " call_ref TEXT NOT NULL,"
        " line TEXT NOT NULL,"
        " created_at REAL NOT NULL,"
        " boot TEXT NOT NULL,"
        " number BLOB NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " next_at REAL NOT NULL)"
    )
    db.execute("CREATE INDEX idx_notices_due ON notices (next_at, id)")


@MIGRATIONS()
def m006_audit(db: Database) -> None:
    # The technician's actions (logins, failures, changes); details are masked before they get here.
    db.table("audit").create(
        {"id": int, "at": float, "actor": str, "action": str, "detail": str},
        pk="id",
        not_null=["at", "actor", "action", "detail"],
    )
    db.table("audit").create_index(["at"])


class JournalError(FirmwareError):
    """The journal could not be opened, read or written; nothing was half-written."""


@dataclass(frozen=True)
class CallRecord:
    """One finished call as the technician sees it; the caller number is already masked."""

    call_ref: str
    started_at: float
    line: str
    caller_masked: str
    outcome: str
    duration_s: float


@dataclass(frozen=True)
class NoticeRow:
    """One SMS notice waiting to be sent; `number` is still encrypted (only its boot's key opens it)."""

    id: int
    call_ref: str
    line: str
    created_at: float
    boot: str
    number: bytes
    attempts: int
    next_at: float


@contextmanager
def _failures(action: str) -> Iterator[None]:
    """Turn any sqlite3 error into a JournalError that says what was being done."""
    try:
        yield
    except sqlite3.Error as exc:
        raise JournalError(f"journal {action} failed: {exc}") from exc


def _check_masked(call_ref: str, caller_masked: str) -> None:
    if sum(ch.isdigit() for ch in caller_masked) > _MAX_VISIBLE_DIGITS:
        raise JournalError(f"caller number for call {call_ref} is not masked; refusing to journal it")


def _check_limit(limit: int) -> None:
    if limit < 1:
        raise JournalError(f"limit must be at least 1, got {limit}")


def _create_file(path: Path) -> None:
    """Create the parent directory (0o700) and an empty journal file (0o600) if missing."""
    parent = path.parent
    try:
        if not parent.exists():
            parent.mkdir(parents=True, mode=0o700)
            parent.chmod(0o700)  # mkdir's mode is filtered by the umask
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise JournalError(f"cannot create journal {path}: {exc.strerror or exc}") from exc
    try:
        os.fchmod(fd, 0o600)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(parent)  # the new directory entry must survive a power cut too


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    if read_only:
        if not path.is_file():
            raise JournalError(f"no journal at {path}")
        target, uri = f"{path.resolve().as_uri()}?mode=ro", True
    else:
        _create_file(path)
        target, uri = str(path), False
    with _failures(f"open of {path}"):
        # isolation_level=None: the driver never opens implicit transactions;
        # every write below says BEGIN IMMEDIATE and COMMIT itself.
        return sqlite3.connect(
            target, uri=uri, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )


def _configure(conn: sqlite3.Connection, path: Path, read_only: bool) -> None:
    """Force WAL + synchronous=FULL, then bring the schema up to date (or check it)."""
    mode_sql = "PRAGMA journal_mode" if read_only else "PRAGMA journal_mode=WAL"
    mode = str(conn.execute(mode_sql).fetchone()[0]).lower()
    if mode != "wal":
        raise JournalError(f"journal {path} is in {mode!r} mode, not WAL; open it read-write once")
    conn.execute("PRAGMA synchronous=FULL")
    db = Database(conn, recursive_triggers=False, execute_plugins=False)
    if read_only:
        pending = MIGRATIONS.pending(db)
        if pending:
            raise JournalError(
                f"journal {path} lacks {len(pending)} schema migration(s); "
                "the daemon applies them when it next starts"
            )
        return
    # One write transaction around all migrations, so two processes opening a new
    # journal at once cannot both try to create the tables.
    conn.execute("BEGIN IMMEDIATE")
    try:
        MIGRATIONS.apply(db)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class Journal:
    """The appliance's durable record; see the module docstring for the guarantees."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._path = path
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> Journal:
        """Open (creating and migrating) the journal; ``read_only`` never creates or writes."""
        path = Path(path)
        conn = _connect(path, read_only)
        try:
            with _failures(f"open of {path}"):
                _configure(conn, path, read_only)
        except BaseException:
            conn.close()
            raise
        log.debug("journal %s open (read_only=%s)", path, read_only)
        return cls(conn, path)

    @property
    def path(self) -> Path:
        return self._path

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def _reading(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock, _failures(f"read of {what}"):
            yield self._open_conn()

    @contextmanager
    def _writing(self, what: str) -> Iterator[sqlite3.Connection]:
        """One explicit transaction: committed (and fsynced) on exit, or rolled back."""
        with self._lock, _failures(f"write of {what}"):
            conn = self._open_conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (disk full, I/O error).
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        log.exception("journal rollback failed after a write error")
                raise

    def _open_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"journal {self._path} is closed")
        return self._conn

    def pragmas(self) -> dict[str, Any]:
        """The durability settings in force on this journal's connection (for status and tests)."""
        with self._reading("pragmas") as conn:
            return {
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
            }

    def record_call(self, rec: CallRecord) -> None:
        if rec.outcome not in OUTCOMES:
            raise JournalError(f"unknown call outcome {rec.outcome!r}; expected one of {sorted(OUTCOMES)}")
        _check_masked(rec.call_ref, rec.caller_masked)
        with self._writing("call") as conn:
            conn.execute(
                "INSERT INTO calls (call_ref, started_at, line, caller_masked, outcome, duration_s)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (rec.call_ref, rec.started_at, rec.line, rec.caller_masked, rec.outcome, rec.duration_s),
            )
            conn.execute("DELETE FROM open_calls WHERE call_ref = ?", (rec.call_ref,))

    def begin_call(self, *, call_ref: str, started_at: float, line: str, caller_masked: str) -> None:
        """Note a call that has started, so that a crash before `record_call` still leaves it in the journal."""
        _check_masked(call_ref, caller_masked)
        with self._writing("open call") as conn:
            conn.execute(
                "INSERT OR IGNORE INTO open_calls (call_ref, started_at, line, caller_masked) VALUES (?, ?, ?, ?)",
                (call_ref, started_at, line, caller_masked),
            )

    def close_interrupted(self) -> int:
        """Journal the calls a crash left open as `error` (duration unknown: 0) in one commit; how many."""
        with self._writing("interrupted calls") as conn:
            rows = conn.execute("SELECT call_ref, started_at, line, caller_masked FROM open_calls").fetchall()
            conn.executemany(
                "INSERT INTO calls (call_ref, started_at, line, caller_masked, outcome, duration_s)"
                " VALUES (?, ?, ?, ?, 'error', 0)",
                rows,
            )
            conn.execute("DELETE FROM open_calls")
        return len(rows)

    def outbox_backlog(self) -> int:
        """Resets not yet accepted by central."""
        with self._reading("outbox backlog") as conn:
            return int(conn.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (at shutdown: a clean file for the next start or a copy)."""
        with self._reading("checkpoint") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def add_reset(self, *, call_ref: str, sealed: bytes, created_at: float) -> int:
        """Queue a sealed reset for central; returns its id only once the commit is on disk."""
        if not sealed:
            raise JournalError(f"refusing an empty sealed reset for call {call_ref}")
        with self._writing("reset") as conn:
            cur = conn.execute(
                "INSERT INTO outbox (call_ref, created_at, sealed) VALUES (?, ?, ?)",
                (call_ref, created_at, bytes(sealed)),
            )
            row_id = cur.lastrowid
        if row_id is None:  # cannot happen after a successful INSERT
            raise JournalError("journal write of reset failed: no row id")
        return row_id

    def record_attempt(self, buckets: Sequence[str], at: float) -> None:
        """Count one failed verification against each distinct bucket, in one commit."""
        distinct = list(dict.fromkeys(buckets))
        if not distinct:
            return
        with self._writing("attempt") as conn:
            conn.executemany("INSERT INTO attempts (bucket, at) VALUES (?, ?)", [(b, at) for b in distinct])

    def count_attempts(self, bucket: str, since: float) -> int:
        """Failed attempts in ``bucket`` at or after ``since``."""
        with self._reading("attempts") as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM attempts WHERE bucket = ? AND at >= ?", (bucket, since)
            ).fetchone()
        return int(row[0])

    def purge_attempts(self, before: float) -> int:
        """Forget attempts older than ``before``; returns how many were removed."""
        with self._writing("attempt purge") as conn:
            return conn.execute("DELETE FROM attempts WHERE at < ?", (before,)).rowcount

    def calls(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest calls, newest first."""
        _check_limit(limit)
        with self._reading("calls") as conn:
            rows = conn.execute(
                "SELECT call_ref, started_at, line, caller_masked, outcome, duration_s"
                " FROM calls ORDER BY started_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        keys = ("call_ref", "started_at", "line", "caller_masked", "outcome", "duration_s")
        return [dict(zip(keys, row)) for row in rows]

    def outbox(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest reset events without their sealed bytes, newest first."""
        _check_limit(limit)
        with self._reading("outbox") as conn:
            rows = conn.execute(
                "SELECT id, created_at, call_ref, length(sealed), sent_at"
                " FROM outbox ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        keys = ("id", "created_at", "call_ref", "size", "sent_at")
        return [dict(zip(keys, row)) for row in rows]

    def pending_resets(self, limit: int = 100) -> list[tuple[int, bytes]]:
        """Unsent resets, oldest first, for the push to central."""
        _check_limit(limit)
        with self._reading("pending resets") as conn:
            rows = conn.execute(
                "SELECT id, sealed FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
        return [(int(row_id), bytes(blob)) for row_id, blob in rows]

    def mark_sent(self, ids: Sequence[int], at: float) -> None:
        """Mark resets as accepted by central; already-sent rows keep their first time."""
        if not ids:
            return
        with self._writing("sent marks") as conn:
            conn.executemany(
                "UPDATE outbox SET sent_at = ? WHERE id = ? AND sent_at IS NULL", [(at, i) for i in ids]
            )

    # -- post-reset SMS notices (firmware/notices.py) ----------------------------------------------------------
    def add_notice(self, *, call_ref: str, line: str, created_at: float, boot: str, number: bytes,
                   next_at: float) -> int:
        """Queue one notice; `number` must already be encrypted (never a plain number at rest)."""
        if not number or bytes(number).isdigit():
            raise JournalError(f"refusing an unencrypted number for the notice of call {call_ref}")
        with self._writing("notice") as conn:
            cur = conn.execute(
                "INSERT INTO notices (call_ref, line, created_at, boot, number, next_at) VALUES (?, ?, ?, ?, ?, ?)",
                (call_ref, line, created_at, boot, bytes(number), next_at),
            )
            row_id = cur.lastrowid
        if row_id is None:
            raise JournalError("journal write of notice failed: no row id")
        return row_id

    def notices(self, due_by: float | None = None, limit: int = 100) -> list[NoticeRow]:
        """Waiting notices, oldest first; with `due_by`, only those due at or before it."""
        _check_limit(limit)
        where, args = ("WHERE next_at <= ?", (due_by, limit)) if due_by is not None else ("", (limit,))
        with self._reading("notices") as conn:
            rows = conn.execute(
                "SELECT id, call_ref, line, created_at, boot, number, attempts, next_at FROM notices "
                f"{where} ORDER BY next_at, id LIMIT ?",
                args,
            ).fetchall()
        return [NoticeRow(int(r[0]), r[1], r[2], float(r[3]), r[4], bytes(r[5]), int(r[6]), float(r[7]))
                for r in rows]

    def retry_notice(self, notice_id: int, *, attempts: int, next_at: float) -> None:
        with self._writing("notice retry") as conn:
            conn.execute("UPDATE notices SET attempts = ?, next_at = ? WHERE id = ?", (attempts, next_at, notice_id))

    def delete_notice(self, notice_id: int) -> None:
        """The notice was sent: nothing of it is kept."""
        with self._writing("notice removal") as conn:
            conn.execute("DELETE FROM notices WHERE id = ?", (notice_id,))

    def hand_notice_over(self, notice_id: int, *, call_ref: str, sealed: bytes, created_at: float) -> int:
        """Replace a notice the box cannot send by a sealed outbox event for central, in one commit."""
        if not sealed:
            raise JournalError(f"refusing an empty sealed event for call {call_ref}")
        with self._writing("notice hand-over") as conn:
            cur = conn.execute(
                "INSERT INTO outbox (call_ref, created_at, sealed) VALUES (?, ?, ?)",
                (call_ref, created_at, bytes(sealed)),
            )
            conn.execute("DELETE FROM notices WHERE id = ?", (notice_id,))
            row_id = cur.lastrowid
        if row_id is None:
            raise JournalError("journal write of notice hand-over failed: no row id")
        return row_id

    def record_audit(self, action: str, detail: str = "", *, actor: str = "technician", at: float) -> None:
        """One technician action (login, failure, change), committed before it returns."""
        if not action:
            raise JournalError("an audit row needs an action")
        if _AUDIT_DIGIT_RUN.search(detail):
            raise JournalError(f"audit detail for {action!r} carries a long digit run; mask it first")
        with self._writing("audit") as conn:
            conn.execute(
                "INSERT INTO audit (at, actor, action, detail) VALUES (?, ?, ?, ?)", (at, actor, action, detail)
            )

    def audit(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest audit rows, newest first."""
        _check_limit(limit)
        with self._reading("audit") as conn:
            rows = conn.execute(
                "SELECT at, actor, action, detail FROM audit ORDER BY at DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(zip(("at", "actor", "action", "detail"), row)) for row in rows]
