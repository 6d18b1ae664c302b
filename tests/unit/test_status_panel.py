"""The front panel on simulated pins: LED table, blink codes, a short press shows the code, a 10 s hold starts
the console once; the modem power sequence on its pins."""
from __future__ import annotations

from collections.abc import Sequence

import pytest

from drivers.gpio import GpioError, SimulatedPins
from drivers.gpio_power import ModemPower
from firmware.status_panel import FLASH_S, PAUSE_S, Panel, PanelState, code_lit, leds

PINS = {"led_power": 5, "led_line": 6, "led_call": 13, "led_fault": 19, "button": 26}
SERVING = PanelState(starting=False, stopping=False, lines=2, lines_up=2, calls=0, codes=())


def test_blink_code_three_is_three_flashes_then_a_pause() -> None:
    step = FLASH_S / 3
    samples = [code_lit(3, i * step) for i in range(int((6 * FLASH_S + PAUSE_S) / step))]
    flashes = sum(1 for a, b in zip([False] + samples, samples) if b and not a)
    assert flashes == 3 and not any(samples[int(6 * FLASH_S / step) + 1:])
    assert not any(code_lit(0, t / 10) for t in range(100))


def test_led_table() -> None:
    assert leds(SERVING, 0.0) == {"led_power": True, "led_line": True, "led_call": False, "led_fault": False}
    half = PanelState(starting=False, stopping=False, lines=2, lines_up=1, calls=1, codes=(1, 4))
    blinking = {leds(half, t / 20)["led_line"] for t in range(20)}
    assert blinking == {True, False} and leds(half, 0.0)["led_call"] and half.code == 1
    none = PanelState(starting=False, stopping=True, lines=1, lines_up=0, calls=0, codes=(1,))
    assert not any(leds(none, t / 20)["led_line"] for t in range(20))
    assert {leds(none, t / 20)["led_power"] for t in range(20)} == {True, False}


def test_short_press_shows_the_code_and_a_long_hold_starts_the_console_once() -> None:
    pins = SimulatedPins()
    started: list[Sequence[str]] = []
    panel = Panel(pins, PINS, console=started.append, console_command=["systemctl", "start", "c"], hold_s=10.0)
    faulty = PanelState(starting=False, stopping=False, lines=1, lines_up=1, calls=0, codes=(2,))
    t = 1000.0
    pins.press(26)
    panel.tick(faulty, t)
    pins.release(26)
    panel.tick(faulty, t + 0.2)
    shown: list[bool] = []
    for i in range(1, 60):
        panel.tick(SERVING, t + 0.2 + i * 0.05)  # no fault any more, yet the code of the press is shown
        shown.append(pins.read(19))
    assert sum(1 for a, b in zip([False] + shown, shown) if b and not a) == 2
    assert started == []
    pins.press(26)
    for i in range(0, 120):
        panel.tick(SERVING, t + 10 + i * 0.1)
    assert started == [("systemctl", "start", "c")] and panel.console_starts == 1
    pins.release(26)
    panel.tick(SERVING, t + 30)
    assert started == [("systemctl", "start", "c")]


def test_power_key_sequence_and_reset_line() -> None:
    pins = SimulatedPins()
    slept: list[float] = []
    ModemPower("gsm0", pins, power_pin=17, reset_pin=None, key_s=0.6, off_wait_s=5.0, sleep=slept.append).power_cycle()
    assert pins.history(17) == [True, False, True, False] and slept == [0.6, 5.0, 0.6]
    ModemPower("gsm1", pins, power_pin=None, reset_pin=27, reset_s=0.3, sleep=slept.append).power_cycle()
    assert pins.history(27) == [True, False]


def test_pins_outside_the_header_are_refused() -> None:
    with pytest.raises(GpioError, match="GPIO40"):
        SimulatedPins().output(40)
    with pytest.raises(GpioError, match="not set up as an output"):
        SimulatedPins().write(5, True)
