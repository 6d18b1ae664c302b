"""Line supervision: each configured line runs under its own `LineSupervisor` task on the daemon's loop.

A line has *failed* when `start()` raises, or when it reports (drivers.line.Reporting) the state `down` (its own
recovery ladder gave up) or `stopped` without being asked to stop. A failed line is closed (in a worker thread,
bounded) and built again from its configuration after a back-off (1, 2, 4 … 60 s; back to 1 s once it has stayed
up for a minute); the other lines are not touched.

A line is *healthy* for the watchdog when its supervisor task is alive and checking it, and the line is not
wedged: a line whose `close()` does not return within `close_s` is wedged until it does. A line that is merely
down (a modem unplugged) is not unhealthy: restarting the whole daemon would not bring it back and would cut the
calls on the other lines; it shows on the fault LED and in `resetline status`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers import DriverError
from drivers.line import Line, Reporting

from .config import LineConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Supervision:
    first_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    stable_s: float = 60.0  # up this long: the next failure starts the back-off again at first_backoff_s
    check_s: float = 0.5  # how often a line's health is read
    close_s: float = 20.0  # a line's close() taking longer makes it wedged (the watchdog stops)


def line_health(line: Line) -> dict[str, Any]:
    """state, last_error and faults of a line; a line that does not report counts as up."""
    if isinstance(line, Reporting):
        report = line.report()
        return {"state": str(report.get("state", "up")), "last_error": report.get("last_error"),
                "faults": list(report.get("faults") or [])}
    ready = getattr(line, "ready", None)  # the SIP line: its workers can take calls
    if ready is not None and hasattr(ready, "is_set") and not ready.is_set():
        return {"state": "starting", "last_error": None, "faults": []}
    return {"state": "up", "last_error": None, "faults": []}


class LineSupervisor:
    def __init__(self, config: LineConfig, build: Callable[[LineConfig], Line], settings: Supervision,
                 closer: concurrent.futures.Executor, closed: Callable[[Line], None] | None = None) -> None:
        self.config = config
        self._closed = closed  # told on the loop after a line is closed (its calls are over)
        self.name = config.name
        self._build = build
        self._s = settings
        self._closer = closer
        self.line: Line | None = None
        self.state = "starting"
        self.last_error: str | None = None
        self.faults: list[str] = []
        self.restarts = 0
        self._failures = 0
        self._up_since: float | None = None
        self._checked = time.monotonic()
        self._closing: list[tuple[float, concurrent.futures.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.settled = asyncio.Event()  # the first bring-up ended (up, or failed)

    # -- the daemon ------------------------------------------------------------------------------------------------
    def begin(self, first: Line) -> None:
        """Supervise `first` (already built, so a configuration error stops the daemon before anything runs)."""
        self.line = first
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"supervise-{self.name}")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        self.state = "stopped"

    def healthy(self, now: float) -> bool:
        task_alive = self._task is not None and not self._task.done()
        recent = now - self._checked <= max(5.0, 10 * self._s.check_s)
        return task_alive and recent and not self.wedged

    @property
    def wedged(self) -> bool:
        self._closing = [(started, future) for started, future in self._closing if not future.done()]
        return any(time.monotonic() - started > self._s.close_s for started, _ in self._closing)

    def snapshot(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.config.kind, "state": self.state, "restarts": self.restarts,
                "last_error": self.last_error, "faults": list(self.faults), "wedged": self.wedged}

    # -- the task --------------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._stop.is_set():
                reason = await self._serve()
                if reason is None:
                    break
                await self._fail(reason)
        except Exception:  # the task's top: a supervisor that dies makes the daemon unhealthy (watchdog)
            log.exception("supervisor of line %s failed", self.name)
            raise
        finally:
            await self._close_line()

    async def _serve(self) -> str | None:
        """Start the line and watch it; the reason it failed, or None when asked to stop."""
        if self.line is None:
            try:
                self.line = self._build(self.config)
            except (DriverError, OSError) as exc:
                return f"cannot build the line: {exc}"
        try:
            self.line.start()
        except (DriverError, OSError) as exc:
            return f"start failed: {exc}"
        self.state = "starting"
        while not self._stop.is_set():
            now = time.monotonic()
            self._checked = now
            health = line_health(self.line)
            state = health["state"]
            self.faults = health["faults"]
            if health["last_error"]:
                self.last_error = str(health["last_error"])
            if state in ("down", "stopped"):
                return f"the line is {state}: {health['last_error'] or 'no reason given'}"
            if state == "up" and self.state != "up":
                self._up_since = now
                log.info("line %s is up", self.name)
            self.state = state
            if state != "starting":
                self.settled.set()
            if self._up_since is not None and now - self._up_since >= self._s.stable_s:
                self._failures = 0
            try:
                await asyncio.wait_for(self._stop.wait(), self._s.check_s)
            except asyncio.TimeoutError:
                pass
        return None

    async def _fail(self, reason: str) -> None:
        self._failures += 1
        self.restarts += 1
        self._up_since = None
        self.last_error = reason
        self.state = "restarting"
        self.settled.set()
        delay = min(self._s.max_backoff_s, self._s.first_backoff_s * 2 ** (self._failures - 1))
        log.error("line %s failed (%s); restarting it in %.0f s", self.name, reason, delay)
        await self._close_line()
        deadline = time.monotonic() + delay
        while not self._stop.is_set() and time.monotonic() < deadline:
            self._checked = time.monotonic()
            try:
                await asyncio.wait_for(self._stop.wait(), min(self._s.check_s, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass

    async def _close_line(self) -> None:
        line, self.line = self.line, None
        if line is None:
            return
        future = self._closer.submit(line.close)
        self._closing.append((time.monotonic(), future))
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), self._s.close_s)
        except asyncio.TimeoutError:
            log.error("line %s did not close within %.0f s: wedged", self.name, self._s.close_s)
        except Exception:  # a driver's close failing must not stop the supervision of the line
            log.exception("line %s: close failed", self.name)
        if self._closed is not None:
            self._closed(line)
