"""`StatusBoard`: what a modem line knows about itself, written by the line's thread and read from any thread
(a lock, copies out). Each driver says which keys it keeps and which faults it sees in them (`_faults`)."""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

STATES = ("starting", "up", "recovering", "down", "stopped")


class StatusBoard:
    def __init__(self, data: dict[str, Any]) -> None:
        self._lock = threading.Condition()
        self._data = data

    def set(self, **values: Any) -> None:
        with self._lock:
            self._data.update(values)
            self._data["faults"] = self._faults()
            self._lock.notify_all()

    def get(self, key: str) -> Any:
        with self._lock:
            return copy.deepcopy(self._data[key])

    def bump(self, key: str, sub: str | None = None) -> None:
        """Count one more `key`, or one more `sub` in the counts kept under `key`."""
        with self._lock:
            if sub is None:
                self._data[key] += 1
            else:
                self._data[key][sub] = self._data[key].get(sub, 0) + 1
            self._lock.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._data)

    def wait_state(self, states: tuple[str, ...], timeout: float) -> str:
        with self._lock:
            self._lock.wait_for(lambda: self._data["state"] in states, timeout)
            return str(self._data["state"])

    def wait_until(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: predicate(self._data), timeout)

    def _faults(self) -> list[str]:
        return []
