"""LineSupervisor on a real asyncio loop with lines that fail on purpose: restart with back-off, the other line
untouched, a line whose close hangs is wedged (unhealthy), a line that reports `down` is restarted."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Sequence
from typing import Any

from drivers import DriverError
from drivers.line import EventSink
from firmware.config import LineConfig, SimLineConfig
from firmware.supervisor import LineSupervisor, Supervision

FAST = Supervision(first_backoff_s=0.05, max_backoff_s=0.2, stable_s=10.0, check_s=0.01, close_s=0.3)


class FakeLine:
    """A line whose start, state and close the test scripts."""

    def __init__(self, name: str, *, start_fails: bool = False, close_blocks: threading.Event | None = None) -> None:
        self.name = name
        self.start_fails = start_fails
        self.close_blocks = close_blocks
        self.state = "up"
        self.started = self.closed = 0

    def attach(self, sink: EventSink) -> None: ...
    def answer(self, call_id: str) -> None: ...
    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None: ...
    def stop_playback(self, call_id: str) -> None: ...
    def hang_up(self, call_id: str) -> None: ...

    def start(self) -> None:
        self.started += 1
        if self.start_fails:
            raise DriverError("no such port")

    def close(self) -> None:
        self.closed += 1
        if self.close_blocks is not None:
            self.close_blocks.wait(5)

    def report(self) -> dict[str, Any]:
        return {"state": self.state, "last_error": "modem gone" if self.state == "down" else None, "faults": []}


class Factory:
    def __init__(self, **options: Any) -> None:
        self.options = options
        self.built: list[FakeLine] = []

    def __call__(self, config: LineConfig) -> FakeLine:
        line = FakeLine(config.name, **self.options)
        self.built.append(line)
        return line


def run(scenario: Any) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_line_that_cannot_start_is_retried_with_growing_backoff_and_the_other_is_untouched() -> None:
    async def scenario() -> None:
        closer = concurrent.futures.ThreadPoolExecutor(2)
        broken, good = Factory(start_fails=True), Factory()
        one = LineSupervisor(SimLineConfig("bad"), broken, FAST, closer)
        two = LineSupervisor(SimLineConfig("good"), good, FAST, closer)
        one.begin(broken(one.config))
        two.begin(good(two.config))
        await asyncio.sleep(0.6)
        assert 3 <= one.restarts <= 6  # 0.05, 0.1, 0.2, 0.2 … not a tight loop
        assert one.state == "restarting" and "no such port" in (one.last_error or "")
        assert len(good.built) == 1 and good.built[0].started == 1 and good.built[0].closed == 0
        assert two.state == "up" and one.healthy(_now())
        await one.stop()
        await two.stop()
        assert good.built[0].closed == 1 and one.state == "stopped"
        closer.shutdown()

    run(scenario)


def test_a_line_that_goes_down_is_closed_and_built_again() -> None:
    async def scenario() -> None:
        closer = concurrent.futures.ThreadPoolExecutor(2)
        factory = Factory()
        supervisor = LineSupervisor(SimLineConfig("gsm0"), factory, FAST, closer)
        supervisor.begin(factory(supervisor.config))
        await asyncio.sleep(0.05)
        assert supervisor.state == "up" and supervisor.settled.is_set()
        factory.built[0].state = "down"
        await asyncio.sleep(0.3)
        assert factory.built[0].closed == 1 and len(factory.built) == 2 and supervisor.state == "up"
        assert supervisor.restarts == 1 and supervisor.last_error and "modem gone" in supervisor.last_error
        await supervisor.stop()
        closer.shutdown()

    run(scenario)


def test_a_line_whose_close_hangs_is_wedged_and_unhealthy() -> None:
    async def scenario() -> None:
        closer = concurrent.futures.ThreadPoolExecutor(2)
        release = threading.Event()
        factory = Factory(close_blocks=release)
        supervisor = LineSupervisor(SimLineConfig("gsm0"), factory, FAST, closer)
        supervisor.begin(factory(supervisor.config))
        await asyncio.sleep(0.05)
        assert supervisor.healthy(_now())
        factory.built[0].state = "down"
        await asyncio.sleep(0.6)  # close_s = 0.3
        assert supervisor.wedged and not supervisor.healthy(_now())
        release.set()
        await asyncio.sleep(0.2)
        assert not supervisor.wedged and supervisor.healthy(_now())
        await supervisor.stop()
        closer.shutdown()

    run(scenario)


def _now() -> float:
    return time.monotonic()
