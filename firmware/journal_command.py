"""``resetline journal``: the technician's read-only view of calls and reset events.

Caller numbers are shown as the journal stores them (masked); reset events show
their size and whether central has them, never the sealed bytes. The journal is
opened read-only and is never created by this command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from firmware.journal import Journal, JournalError

JOURNAL_FILE = "journal.db"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``journal`` subcommand to the ``resetline`` command line."""
    parser = sub.add_parser(
        "journal",
        help="show recent calls and reset events (masked)",
        description="Show recent calls and reset events from <state-dir>/journal.db, newest first. "
        "Caller numbers appear masked; sealed passwords are never shown.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of tables")
    parser.add_argument("--state-dir", type=Path, required=True, help="the appliance state directory")
    parser.add_argument("--limit", type=_positive_int, default=50, help="rows of each kind (default 50)")
    parser.set_defaults(func=run)


def local_iso(ts: float | None) -> str | None:
    """Unix seconds as local ISO 8601 time with its UTC offset."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _call_event(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "call",
        "time": local_iso(row["started_at"]),
        "call_ref": row["call_ref"],
        "line": row["line"],
        "caller": row["caller_masked"],
        "outcome": row["outcome"],
        "duration_s": row["duration_s"],
    }


def _reset_event(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "reset",
        "id": row["id"],
        "time": local_iso(row["created_at"]),
        "call_ref": row["call_ref"],
        "size": row["size"],
        "sent_at": local_iso(row["sent_at"]),
        "status": "pending" if row["sent_at"] is None else "sent",
    }


def _table(out: TextIO, title: str, headers: Sequence[str], rows: list[list[str]]) -> None:
    out.write(f"{title}\n")
    if not rows:
        out.write("  (none)\n")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for cells in [list(headers), ["-" * w for w in widths], *rows]:
        out.write("  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() + "\n")


def _write_tables(out: TextIO, calls: list[dict[str, Any]], resets: list[dict[str, Any]]) -> None:
    _table(
        out,
        "Calls (newest first)",
        ("Time", "Line", "Caller", "Outcome", "Duration", "Call ref"),
        [
            [str(e["time"]), e["line"], e["caller"] or "-", e["outcome"], f"{e['duration_s']:.1f} s", e["call_ref"]]
            for e in calls
        ],
    )
    out.write("\n")
    _table(
        out,
        "Reset events (outbox, newest first)",
        ("ID", "Time", "Call ref", "Size", "Status"),
        [
            [str(e["id"]), str(e["time"]), e["call_ref"], f"{e['size']} B",
             "pending" if e["sent_at"] is None else f"sent {e['sent_at']}"]
            for e in resets
        ],
    )


def run(args: argparse.Namespace) -> int:
    """Print the journal; exit code 1 when there is no readable journal."""
    path = Path(args.state_dir) / JOURNAL_FILE
    if not path.is_file():
        print(f"resetline journal: no journal at {path} (check --state-dir; "
              "the daemon creates it when it first starts)", file=sys.stderr)
        return 1
    try:
        with Journal.open(path, read_only=True) as journal:
            calls = [_call_event(r) for r in journal.calls(args.limit)]
            resets = [_reset_event(r) for r in journal.outbox(args.limit)]
    except JournalError as exc:
        print(f"resetline journal: {exc}", file=sys.stderr)
        return 1
    try:
        if args.json:
            for event in [*calls, *resets]:
                sys.stdout.write(json.dumps(event, ensure_ascii=False) + "\n")
        else:
            _write_tables(sys.stdout, calls, resets)
        sys.stdout.flush()
    except BrokenPipeError:  # piped into `head`: stop quietly, also at interpreter exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
