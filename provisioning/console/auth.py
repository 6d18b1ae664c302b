"""Wrong-PIN back-off: five tries free, then a wait that doubles with every further failure (capped).

The count is rebuilt from the journal's audit rows when the console starts, so restarting the service does not
give a guesser fresh tries.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FREE_TRIES = 5
FIRST_WAIT_S = 30.0
MAX_WAIT_S = 3600.0
MEMORY_S = 24 * 3600.0  # failures older than this are forgotten


class Backoff:
    def __init__(self, failures: int = 0, last_failure_at: float = 0.0) -> None:
        self.failures = failures
        self.last_failure_at = last_failure_at

    @classmethod
    def from_audit(cls, rows: Iterable[Mapping[str, Any]], now: float) -> Backoff:
        """Failures since the last successful login (rows newest first, as `Journal.audit` gives them)."""
        failures, last = 0, 0.0
        for row in rows:
            if row["action"] == "login_ok" or now - row["at"] > MEMORY_S:
                break
            if row["action"] == "login_failed":
                failures += 1
                last = max(last, row["at"])
        return cls(failures, last)

    def wait_s(self, now: float) -> float:
        """Seconds before the next try is allowed (0: go ahead)."""
        if self.failures < FREE_TRIES:
            return 0.0
        delay = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (self.failures - FREE_TRIES))
        return max(0.0, self.last_failure_at + delay - now)

    def failed(self, now: float) -> None:
        self.failures += 1
        self.last_failure_at = now

    def succeeded(self) -> None:
        self.failures = 0
