"""The demo's key-timing rule on a real SIP call: `drivers.simcaller.ScriptedCaller`, fed with what the line hears.

ScriptedCaller presses each key one second after the previous key or after the box falls silent, whichever is
later (`,` waits a second more; with barge-in it does not wait for the box). On a real call "the box falls
silent" is the first quiet 20 ms frame and "a prompt starts" the first loud one; a gap inside or between prompts
shorter than a second (every gap the box makes while it speaks) cancels the pending key, exactly as the demo's
simulated line does at a prompt boundary. Time is the dialer's `time.monotonic()`, set from each frame's arrival.
"""
from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from drivers.simcaller import KeyStep, ScriptedCaller
from drivers.simline import FarEnd


class _Handle:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class PolledScheduler:
    """A scheduler whose clock is set by its owner (`advance`), which runs what is due: the dialer's loop."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._queue: list[tuple[float, int, _Handle, Callable[[], None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle()
        heapq.heappush(self._queue, (self._now + max(0.0, delay), next(self._order), handle, callback))
        return handle

    def advance(self, now: float) -> None:
        """Run every callback due by `now` (at its own due time), then stand at `now` (never going back)."""
        while self._queue and self._queue[0][0] <= now:
            when, _, handle, callback = heapq.heappop(self._queue)
            if not handle.cancelled:
                self._now = max(self._now, when)
                callback()
        self._now = max(self._now, now)


class _Quiet:
    """ScriptedCaller's listener: the dialer keeps its own record of keys and audio."""

    def heard(self, t: float, prompt_id: str) -> None:
        pass

    def pressed(self, t: float, key: str) -> None:
        pass

    def ended(self, t: float, by_caller: bool) -> None:
        pass


class DemoKeys:
    """A `drivers.sip.dialer.KeyPlan` that presses `steps` by the demo's rule."""

    def __init__(self, steps: list[KeyStep], *, barge_in: bool = False) -> None:
        self._steps = steps
        self._barge_in = barge_in
        self._clock: PolledScheduler | None = None
        self._caller: ScriptedCaller | None = None
        self._loud: bool | None = None
        self._to_press: list[str] = []
        self._hang_up = False
        self._pressed = 0

    # -- the Telephone ScriptedCaller dials: the call is already up when it is given to it --------------------
    def ring(self, caller: str | None, far_end: FarEnd) -> str:
        return "sip"

    def press(self, key: str) -> None:
        self._to_press.append(key)
        self._pressed += 1

    def caller_hangs_up(self) -> None:
        self._hang_up = True

    # -- KeyPlan --------------------------------------------------------------------------------------------------
    def answered(self, now: float) -> None:
        self._clock = PolledScheduler(now)
        self._caller = ScriptedCaller(self, self._clock, list(self._steps), _Quiet(), barge_in=self._barge_in)
        self._caller.call(None)

    def frame(self, now: float, loud: bool) -> None:
        if self._clock is None or self._caller is None or loud == self._loud:
            return
        self._clock.advance(now)
        self._loud = loud
        if loud:
            self._caller.prompt_started("")
        else:
            self._caller.silent()

    def due(self, now: float) -> list[str]:
        if self._clock is not None:
            self._clock.advance(now)
        keys, self._to_press = self._to_press, []
        return keys

    def hang_up_due(self, now: float) -> bool:
        return self._hang_up

    @property
    def keys_left(self) -> int:
        return len(self._steps) - self._pressed
