"""`V253Simulator`: a V.253 voice modem and the copper line behind it, on a pseudo-terminal, for the demo
(`resetline demo --line v253-sim`), field dry runs and the tests. Product code, not a test double.

The driver opens `sim.port` with pyserial like any stick. The caller's side has the API of `SimulatedLine`
(`ring`, `press`, `caller_hangs_up`, a `FarEnd` told what it hears). A key press becomes DTMF tones in the audio
the modem sends (so our detector is on the path), plus a `<DLE>digit` report where the profile's stick reports
keys. The caller's hang-up is silence, then the exchange's busy tone, plus `<DLE>b` / `<DLE>l` as the stick
does. Which prompt the caller hears is recognised from the audio itself (see `simaudio.PromptEar`). `speed`
runs the line N times faster (audio included: the driver must pace at N × 8000 samples/s). Faults on request:
a silent modem, garbage, a vanished port, a reset that forgets caller ID, a far end that goes silent.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from drivers.line import KEYS, Post, PromptSource
from drivers.serialmodem.ptysim import PtySimulator
from drivers.simline import FarEnd

from . import V253Error
from .simaudio import PromptEar
from .simdialects import DIALECTS
from .simmodem import GARBAGE, SimOptions, SimulatedV253

log = logging.getLogger(__name__)

TICK_S = 0.01  # the line's audio advances in steps of at least this much wall time


class V253Simulator(PtySimulator):
    error = V253Error
    thread_prefix = "v253-sim"
    failure = "V.253 simulator failed"
    write_wait_s = 0.5

    def __init__(
        self,
        profile: str = "generic",
        *,
        speed: float = 1.0,
        post: Post | None = None,
        link: str | os.PathLike[str] | None = None,
        prompts: PromptSource | None = None,
        prompt_ids: Sequence[str] | None = None,
        caller_id: str = "formatted",
        cid_after_ring: int = 1,
        exchange: str = "busy",
        busy: tuple[float, float, float] = (425.0, 0.5, 0.5),
        dtmf_reports: bool | None = None,
        echo: float = 0.0,
    ) -> None:
        super().__init__(profile, tuple(DIALECTS), speed=speed, post=post, link=link)
        ids = tuple(prompt_ids) if prompt_ids is not None else _all_ids(prompts)
        self._ear = PromptEar(prompts, ids, self._tell_prompt, self._tell_silent)
        options = SimOptions(caller_id=caller_id, cid_after_ring=cid_after_ring, exchange=exchange, busy=busy,
                             dtmf_reports=dtmf_reports, echo=echo)
        self._modem = SimulatedV253(DIALECTS[profile], self, self._ear, options, speed=speed)
        self._t0 = time.monotonic()
        self._last_tick = 0.0

    # -- the caller's side (any thread) ----------------------------------------------------------------------------
    def ring(self, caller: str | None, far_end: FarEnd) -> str:
        call_id = f"v253-sim-{next(self._calls)}"
        self._do(lambda: self._ring(caller, far_end))
        return call_id

    def press(self, key: str) -> None:
        if key not in KEYS:
            raise V253Error(f"not a keypad key: {key!r}")
        self._do(lambda: self._modem.key(key))

    def caller_hangs_up(self) -> None:
        def gone() -> None:
            self._far = None
            self._modem.caller_hangup()

        self._do(gone)

    # -- faults (any thread) ---------------------------------------------------------------------------------------
    def go_silent(self) -> None:
        """The stick hangs: nothing answered, no audio, no reports, until `power_cycle()`."""
        self._do(lambda: setattr(self._modem, "silent", True))

    def answer_garbage(self, count: int | None = None) -> None:
        """Answer the next `count` commands (None: all, until `power_cycle()`) with garbage bytes."""
        self._do(lambda: setattr(self._modem, "garbage", count))

    def noise(self, data: bytes = GARBAGE) -> None:
        """A burst of line noise, unsolicited."""
        self._do(lambda: self.send(data))

    def refuse_off_hook(self, count: int = 1) -> None:
        """The next `count` `AT+VLS=1` are answered ERROR: the stick cannot take the line off-hook."""
        self._do(lambda: setattr(self._modem, "refuse_off_hook", count))

    def far_goes_silent(self) -> None:
        """The far end vanishes without a sound: no busy tone, no loop drop, no report (only silence)."""
        def gone() -> None:
            self._far = None
            self._modem.caller_hangup(signals=False)

        self._do(gone)

    def lose_settings(self) -> None:
        """A silent reset: the call drops, caller ID and the voice settings are forgotten."""
        self._do(lambda: self._modem.reset(drop_call=True))

    def vanish(self, reappear_after: float | None = None) -> None:
        """The port disappears (USB drop); it comes back after `reappear_after` line seconds, or at
        `power_cycle()`. The stick restarts meanwhile."""
        def drop() -> None:
            self._vanish()
            self._modem.reset(drop_call=True)
            if reappear_after is not None:
                self.schedule(reappear_after, self._appear)

        self._do(drop)

    def power_cycle(self) -> None:
        def cycle() -> None:
            self._modem.silent, self._modem.garbage = False, 0
            self._modem.reset(drop_call=True)
            self._appear()

        self._do(cycle)

    # -- what happened (any thread; copies) ------------------------------------------------------------------------
    @property
    def commands(self) -> list[str]:
        return list(self._modem.commands)

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self._modem.stats)

    # -- Hooks (simulator thread) ----------------------------------------------------------------------------------
    def line_now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    # -- inside ----------------------------------------------------------------------------------------------------
    def _ring(self, caller: str | None, far_end: FarEnd) -> None:
        if self._modem.ring(caller):
            self._far = far_end
        else:
            log.warning("simulated %s: ring refused (busy or silent)", self.profile)
            self._tell(far_end.box_hung_up)

    def _wait_s(self) -> float:
        if self._modem.data is not None or self._modem.off_hook:
            return max(0.0, self._last_tick + TICK_S - time.monotonic())
        return super()._wait_s()

    def _receive(self, data: bytes) -> None:
        self._modem.receive(data)

    def _after_turn(self, now: float) -> None:
        if now - self._last_tick >= TICK_S:
            self._last_tick = now
            self._modem.tick()


def _all_ids(prompts: PromptSource | None) -> tuple[str, ...]:
    ids = getattr(prompts, "ids", None)  # the voice_prompts catalog lists its ids; a bare PromptSource need not
    return tuple(ids()) if callable(ids) else ()

