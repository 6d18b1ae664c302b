"""Prints how long the verifier takes for each kind of caller, with the default scrypt parameters.

`.venv/bin/python bench/verify_timing.py [ROUNDS]` — the three mismatch kinds (wrong pair, unknown code, unknown
number) must not be told apart by timing: each does one scrypt, one indexed query and one committed attempt.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from firmware.journal import Journal
from firmware.keys import load_central_public_key
from firmware.snapshot import Snapshot
from firmware.snapshot_build import write_snapshot
from firmware.verify import LockoutPolicy, Verifier

ROWS = [("0123456789", "+84912345678", "VSS-1"), ("7912345601", "+84362345678", "VSS-2")]
CASES = {
    "match (reset, outbox commit)": ("0912345678", "0123456789"),
    "known number, known code, not a pair": ("0912345678", "7912345601"),
    "unknown code": ("0912345678", "5512345678"),
    "unknown number": ("0933333333", "0123456789"),
}


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        (state / "snapshot").mkdir()
        write_snapshot(ROWS, state / "snapshot" / "current.db", workers=1)
        snapshot = Snapshot.open(state / "snapshot" / "current.db")
        public, _ = load_central_public_key(None, state)
        verifier = Verifier(
            lambda: snapshot, Journal.open(state / "journal.db"), public, b"k" * 32,
            LockoutPolicy(max_mismatches=10**9),  # measure the check itself, never the lockout shortcut
        )
        print(f"{'case':40} {'median ms':>9} {'p10':>7} {'p90':>7}   ({rounds} rounds, interleaved)")
        samples: dict[str, list[float]] = {name: [] for name in CASES}
        for _ in range(rounds):
            for name, (caller, code) in CASES.items():
                start = time.perf_counter()
                verifier.check(caller, code, "bench")
                samples[name].append((time.perf_counter() - start) * 1000)
        for name, values in samples.items():
            values.sort()
            p10, p90 = values[len(values) // 10], values[len(values) * 9 // 10]
            print(f"{name:40} {statistics.median(values):9.1f} {p10:7.1f} {p90:7.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
