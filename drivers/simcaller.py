"""A scripted caller for the simulated line: presses keys with a person's timing and notes what it hears.

Timing rule (the demo's contract): each key is pressed one second after the previous key or after the box
falls silent, whichever is later; `,` in the script waits one extra second; with barge-in the caller does not
wait for prompts to end. Spaces are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from . import DriverError
from .clock import Scheduler, TimerHandle
from .simline import FarEnd

KEY_GAP_S = 1.0
SCRIPT_KEYS = frozenset("0123456789*#")


@dataclass(frozen=True)
class KeyStep:
    key: str
    extra_wait_s: float = 0.0


def parse_keys(script: str) -> list[KeyStep]:
    """`"8 0123456789,#"` → steps; raises DriverError naming the first character it cannot press."""
    steps: list[KeyStep] = []
    extra = 0.0
    for position, ch in enumerate(script, start=1):
        if ch.isspace():
            continue
        if ch == ",":
            extra += KEY_GAP_S
        elif ch in SCRIPT_KEYS:
            steps.append(KeyStep(ch, extra))
            extra = 0.0
        else:
            raise DriverError(f"--keys: character {position} ({ch!r}) is not a key; use 0-9, *, #, spaces and ','")
    return steps


class Telephone(Protocol):
    """The caller's side of a simulated call: the simulated line, or a modem simulator's far end."""

    def ring(self, caller: str | None, far_end: FarEnd) -> str: ...

    def press(self, key: str) -> None: ...

    def caller_hangs_up(self) -> None: ...


class Listener(Protocol):
    def heard(self, t: float, prompt_id: str) -> None: ...

    def pressed(self, t: float, key: str) -> None: ...

    def ended(self, t: float, by_caller: bool) -> None: ...


class ScriptedCaller:
    """Calls the line, follows its script, then stays on the line until the box hangs up (or `hangup_at`)."""

    def __init__(
        self,
        line: Telephone,
        scheduler: Scheduler,
        steps: list[KeyStep],
        listener: Listener,
        *,
        barge_in: bool = False,
        hangup_at: float | None = None,
    ) -> None:
        self._line = line
        self._scheduler = scheduler
        self._steps = list(steps)
        self._listener = listener
        self._barge_in = barge_in
        self._hangup_at = hangup_at
        self._last_key = 0.0
        self._silent_since: float | None = None
        self._pending: TimerHandle | None = None
        self.connected = False

    def call(self, caller: str | None) -> None:
        self._last_key = self._scheduler.now()
        self.connected = True
        if self._hangup_at is not None:
            self._scheduler.call_later(self._hangup_at - self._scheduler.now(), self.hang_up)
        self._line.ring(caller, self)
        self._schedule()

    # -- FarEnd ----------------------------------------------------------------------------------------------------
    def prompt_started(self, prompt_id: str) -> None:
        self._silent_since = None
        self._listener.heard(self._scheduler.now(), prompt_id)
        self._schedule()

    def silent(self) -> None:
        if self._silent_since is None:
            self._silent_since = self._scheduler.now()
        self._schedule()

    def box_hung_up(self) -> None:
        self._end(by_caller=False)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if not self.connected or not self._steps:
            return
        step = self._steps[0]
        if self._barge_in:
            when = self._last_key + KEY_GAP_S
        elif self._silent_since is None:
            return  # wait for the box to fall silent
        else:
            when = max(self._last_key, self._silent_since) + KEY_GAP_S
        self._pending = self._scheduler.call_later(when + step.extra_wait_s - self._scheduler.now(), self._next_key)

    def _next_key(self) -> None:
        self._pending = None
        self.press(self._steps.pop(0).key)

    def press(self, key: str) -> None:
        """Press a key now (the script's next key, or a person's at the terminal)."""
        if not self.connected:
            return
        self._last_key = self._scheduler.now()
        self._listener.pressed(self._last_key, key)
        self._line.press(key)
        self._schedule()

    def hang_up(self) -> None:
        if self.connected:
            self._end(by_caller=True)
            self._line.caller_hangs_up()

    def _end(self, by_caller: bool) -> None:
        if not self.connected:
            return
        self.connected = False
        if self._pending is not None:
            self._pending.cancel()
        self._listener.ended(self._scheduler.now(), by_caller)

