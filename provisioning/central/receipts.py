"""Central's record of outbox events: each stored once per (box, outbox id), resets opened and kept per account.

Every POST is committed (fsync) before it is acknowledged, so a box that lost the answer
sends the same events again and they are recognised, not stored twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.public

from firmware.sealing import SealingError, unseal

from . import CentralError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS events (box TEXT NOT NULL, outbox_id INTEGER NOT NULL, kind TEXT,"
    " received_at REAL NOT NULL, payload TEXT, sealed BLOB, PRIMARY KEY (box, outbox_id))",
    "CREATE TABLE IF NOT EXISTS resets (box TEXT NOT NULL, outbox_id INTEGER NOT NULL, account_ref TEXT,"
    " bhxh_code TEXT, password TEXT NOT NULL, call_ref TEXT, created_at REAL, voided_at REAL,"
    " PRIMARY KEY (box, outbox_id))",
    "CREATE INDEX IF NOT EXISTS resets_account ON resets (account_ref, created_at)",
)


@dataclass(frozen=True)
class Event:
    """One outbox row as the box sends it."""

    outbox_id: int
    sealed: bytes


class Receipts:
    """``central.db``: the events table (every event, opened payload or the unreadable blob) and resets."""

    def __init__(self, path: Path, sealing_key: nacl.public.PrivateKey) -> None:
        self._key = sealing_key
        self._lock = threading.Lock()
        path = Path(path)
        if not path.exists():
            path.touch(mode=0o600)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        for statement in _SCHEMA:
            self._conn.execute(statement)

    def record(self, box: str, events: list[Event]) -> dict[str, list[int]]:
        """Store new events (a known (box, id) is acknowledged again, not stored twice); one commit."""
        acked: list[int] = []
        duplicates: list[int] = []
        unreadable: list[int] = []
        now = time.time()
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                for event in events:
                    if self._known(box, event.outbox_id):
                        duplicates.append(event.outbox_id)
                    elif not self._store(box, event, now):
                        unreadable.append(event.outbox_id)
                    acked.append(event.outbox_id)
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise CentralError(f"cannot record events: {exc}") from exc
        return {"acked": acked, "duplicates": duplicates, "unreadable": unreadable}

    def _known(self, box: str, outbox_id: int) -> bool:
        return self._conn.execute("SELECT 1 FROM events WHERE box = ? AND outbox_id = ?",
                                  (box, outbox_id)).fetchone() is not None

    def _store(self, box: str, event: Event, now: float) -> bool:
        """Open and store one event; an unreadable one is kept sealed (and acknowledged) for inspection."""
        try:
            payload: dict[str, Any] | None = unseal(self._key, event.sealed)
        except SealingError:
            payload = None
        kind = None if payload is None else str(payload.get("kind", ""))
        self._conn.execute(
            "INSERT INTO events (box, outbox_id, kind, received_at, payload, sealed) VALUES (?, ?, ?, ?, ?, ?)",
            (box, event.outbox_id, kind, now,
             None if payload is None else json.dumps(_without_password(payload), ensure_ascii=False),
             event.sealed if payload is None else None))
        if payload is not None and kind == "reset" and isinstance(payload.get("password"), str):
            self._conn.execute(
                "INSERT INTO resets (box, outbox_id, account_ref, bhxh_code, password, call_ref, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (box, event.outbox_id, payload.get("account_ref"), payload.get("bhxh_code"), payload["password"],
                 payload.get("call_ref"), payload.get("created_at")))
        if payload is not None and kind == "reset_void":  # issued but never heard by the caller: not applied
            self._conn.execute("UPDATE resets SET voided_at = ? WHERE box = ? AND call_ref = ? AND voided_at IS NULL",
                               (now, box, payload.get("call_ref")))
        return payload is not None

    def events(self, box: str | None = None) -> list[tuple[str, int, str | None]]:
        """(box, outbox id, kind) of every stored event, in order (tests, inspection)."""
        with self._lock:
            sql = "SELECT box, outbox_id, kind FROM events"
            rows = self._conn.execute(sql + " WHERE box = ? ORDER BY box, outbox_id" if box else
                                      sql + " ORDER BY box, outbox_id", (box,) if box else ()).fetchall()
        return [(str(b), int(i), k) for b, i, k in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _without_password(payload: dict[str, Any]) -> dict[str, Any]:
    """The event as kept in ``events``: the password lives only in ``resets``."""
    return {key: value for key, value in payload.items() if key != "password"}
