"""`[gpio]` and the GSM line's modem pins and timings: validated once, errors name the key."""
from __future__ import annotations

from typing import Any

import pytest

from firmware.config import ConfigError, parse

GSM = {"name": "gsm0", "kind": "gsm", "port": "/dev/resetline/ec25-at"}


def gpio_config(gpio: dict[str, Any], **line: Any) -> dict[str, Any]:
    return {"gpio": gpio, "line": [{**GSM, **line}]}


def test_a_full_panel_and_modem_pins() -> None:
    config = parse(gpio_config({"backend": "rpi", "led_power": 5, "button": 26}, power_gpio=17, reset_gpio=27,
                               timings={"reboot_s": 60}))
    assert config.gpio.panel_pins() == {"led_power": 5, "button": 26}
    line = config.lines[0]
    assert getattr(line, "power_gpio") == 17 and getattr(line, "timings").reboot_s == 60.0


@pytest.mark.parametrize(("raw", "message"), [
    (gpio_config({"backend": "rpi", "led_power": 17}, power_gpio=17),
     "line[0].power_gpio: GPIO17 is already used by gpio.led_power"),
    (gpio_config({}, power_gpio=17), 'gpio.backend: line[0].power_gpio names a pin; set backend = "rpi"'),
    (gpio_config({"backend": "wiringpi"}), "gpio.backend: must be one of none, rpi, sim"),
    (gpio_config({"backend": "rpi", "led_fault": 1}), "gpio.led_fault: must be between 2 and 27"),
    (gpio_config({"backend": "rpi", "trace": "/tmp/x"}), "gpio.trace: only the simulated back end"),
    (gpio_config({"backend": "sim", "console_command": []}), "gpio.console_command: must name a program"),
    (gpio_config({"backend": "sim", "led_lnie": 6}), "gpio.led_lnie: unknown key; did you mean 'led_line'?"),
    (gpio_config({}, timings={"reboot_s": 0}), "line[0].timings.reboot_s: must be above 0"),
    (gpio_config({}, timings={"reboot": 5}), "line[0].timings.reboot: unknown key; did you mean 'reboot_s'?"),
])
def test_mistakes_are_named(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert str(caught.value).startswith(message), str(caught.value)
