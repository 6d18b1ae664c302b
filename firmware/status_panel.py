"""The front panel: four LEDs and a button on GPIO, driven from the daemon's state ten times a second.

| LED   | steady on              | blinking                                   | off                 |
|-------|------------------------|--------------------------------------------|---------------------|
| power | serving                | 1 Hz: starting or stopping                 | daemon not running  |
| line  | every line up          | 2 Hz: some lines up, or still coming up    | no line up          |
| call  | a call in progress     | –                                          | no call             |
| fault | –                      | the fault code: N flashes, pause, repeat   | no fault            |

Fault codes (the lowest active one is shown; `resetline status` names them all):
1 a line is not up · 2 no snapshot installed · 3 the journal cannot be written (disk full; call records wait
in memory) · 4 ModemManager is running · 5 a line is wedged (the watchdog has stopped; systemd restarts the box).

The button: a short press shows the current code once on the fault LED (one long flash: no fault); held for
`console_hold_s` (10 s) it starts the technician console on the Pi's UART (`gpio.console_command`), and every LED
flickers for a second to say so.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drivers.gpio import Pins

log = logging.getLogger(__name__)

FAULTS = {
    1: "a line is not up",
    2: "no snapshot installed",
    3: "the journal cannot be written",
    4: "ModemManager is running",
    5: "a line is wedged",
}
FLASH_S = 0.3  # one flash of a code: this long on, this long off
PAUSE_S = 2.0  # dark between two repeats of a code
ALL_WELL_S = 1.5  # a short press with no fault: one long flash
SHORT_PRESS_MAX_S = 2.0
ACK_S = 1.0


@dataclass(frozen=True)
class PanelState:
    starting: bool
    stopping: bool
    lines: int
    lines_up: int
    calls: int
    codes: tuple[int, ...]  # every active fault code

    @property
    def code(self) -> int:
        return min(self.codes, default=0)


def code_lit(code: int, t: float) -> bool:
    """Whether the fault LED is lit `t` seconds into the repeating pattern of `code` (0: never)."""
    if code <= 0:
        return False
    period = code * 2 * FLASH_S + PAUSE_S
    phase = t % period
    return phase < code * 2 * FLASH_S and (phase % (2 * FLASH_S)) < FLASH_S


def leds(state: PanelState, t: float) -> dict[str, bool]:
    """The four LEDs at time `t` (pure: the panel's whole table above)."""
    slow = (t % 1.0) < 0.5
    fast = (t % 0.5) < 0.25
    if state.lines and state.lines_up == state.lines:
        line = True
    elif state.lines_up or state.starting:
        line = fast
    else:
        line = False
    return {
        "led_power": slow if state.starting or state.stopping else True,
        "led_line": line,
        "led_call": state.calls > 0,
        "led_fault": code_lit(state.code, t),
    }


class Panel:
    def __init__(self, pins: Pins, assignment: dict[str, int], *, console: Callable[[Sequence[str]], None],
                 console_command: Sequence[str], hold_s: float = 10.0) -> None:
        self._pins = pins
        self._leds = {name: pin for name, pin in assignment.items() if name.startswith("led_")}
        self._button = assignment.get("button")
        self._console = console
        self._command = tuple(console_command)
        self._hold_s = hold_s
        for pin in self._leds.values():
            pins.output(pin)
        if self._button is not None:
            pins.input(self._button, pull_up=True)
        self._pressed_at: float | None = None
        self._held = False
        self._show: tuple[int, float] | None = None  # (code, started) after a short press
        self._ack_until = 0.0
        self.console_starts = 0

    def tick(self, state: PanelState, now: float) -> None:
        self._button_tick(state, now)
        values = leds(state, now)
        if self._show is not None:
            code, started = self._show
            elapsed = now - started
            if code == 0:
                values["led_fault"] = elapsed < ALL_WELL_S
                done = elapsed >= ALL_WELL_S + FLASH_S
            else:
                values["led_fault"] = code_lit(code, elapsed)
                done = elapsed >= code * 2 * FLASH_S + PAUSE_S
            if done:
                self._show = None
        if now < self._ack_until:
            values = dict.fromkeys(values, (now % 0.1) < 0.05)
        for name, pin in self._leds.items():
            self._pins.write(pin, values[name])

    def off(self) -> None:
        for pin in self._leds.values():
            self._pins.write(pin, False)

    def _button_tick(self, state: PanelState, now: float) -> None:
        if self._button is None:
            return
        down = self._pins.read(self._button)
        if down and self._pressed_at is None:
            self._pressed_at, self._held = now, False
        elif down and self._pressed_at is not None and not self._held and now - self._pressed_at >= self._hold_s:
            self._held = True
            self._ack_until = now + ACK_S
            self.console_starts += 1
            log.warning("button held %.0f s: starting the console (%s)", self._hold_s, " ".join(self._command))
            self._console(self._command)
        elif not down and self._pressed_at is not None:
            if not self._held and now - self._pressed_at <= SHORT_PRESS_MAX_S:
                self._show = (state.code, now)
                log.info("button: status code %d (%s)", state.code, FAULTS.get(state.code, "no fault"))
            self._pressed_at = None
