"""Time as a service: the call flow's timers and the simulator's playback run on one of these.

`VirtualScheduler` runs a whole call in simulated time (the demo and the tests: no sleeping); `AsyncioScheduler`
runs on the daemon's event loop in real time. Both hand out cancellable handles.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...


class _VirtualHandle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualScheduler:
    """A discrete-event clock: `run()` jumps from one due callback to the next until nothing is left."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._queue: list[tuple[float, int, _VirtualHandle, Callable[[], None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _VirtualHandle:
        handle = _VirtualHandle()
        heapq.heappush(self._queue, (self._now + max(0.0, delay), next(self._order), handle, callback))
        return handle

    def run(self, until: float | None = None) -> None:
        """Run due callbacks in time order (ties in scheduling order); stop when idle or past `until`."""
        while self._queue:
            when, _, handle, callback = self._queue[0]
            if until is not None and when > until:
                self._now = until
                return
            heapq.heappop(self._queue)
            if handle.cancelled:
                continue
            self._now = when
            callback()


class AsyncioScheduler:
    """Real time on an asyncio loop; `speed` > 1 runs the clock faster (demo `--speed`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, speed: float = 1.0) -> None:
        self._loop = loop
        self._speed = speed
        self._origin = loop.time()

    def now(self) -> float:
        return (self._loop.time() - self._origin) * self._speed

    def call_later(self, delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        return self._loop.call_later(max(0.0, delay) / self._speed, callback)
