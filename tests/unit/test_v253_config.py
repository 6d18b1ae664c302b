"""The V.253 and GSM line keys in the TOML (busy-tone cadence, per-carrier key timing): parsed, bounded with errors
driver's V253Timings; the module docstring's example stays loadable."""
from __future__ import annotations

import re
import tomllib

import pytest

from drivers.v253 import V253Timings
from firmware import config as configuration
from firmware.config import ConfigError, V253LineConfig, parse


def line(**keys: object) -> dict[str, object]:
    return {"line": [{"name": "pots0", "kind": "v253", "port": "/dev/ttyACM0", **keys}]}


def test_busy_cadence_keys_reach_the_drivers_timings() -> None:
    config = parse(line(busy_hz=480, busy_on_s=0.25, busy_off_s=0.25, busy_tolerance=0.2, busy_cycles=3))
    (pots,) = config.lines
    assert isinstance(pots, V253LineConfig)
    timings = V253Timings(**pots.tone_settings())
    assert (timings.busy_hz, timings.busy_on_s, timings.busy_off_s) == (480.0, 0.25, 0.25)
    assert (timings.busy_tolerance, timings.busy_cycles) == (0.2, 3)
    default = V253Timings(**V253LineConfig(name="x", port="p").tone_settings())
    assert default == V253Timings()  # the config's defaults are the driver's


@pytest.mark.parametrize("keys, message", [
    ({"busy_hz": 1400}, r"line\[0\]\.busy_hz: must be between 300 and 700, got 1400"),
    ({"busy_on_s": 0.01}, r"line\[0\]\.busy_on_s: must be between 0\.1 and 2"),
    ({"busy_off_s": "0.5"}, r"line\[0\]\.busy_off_s: must be a number"),
    ({"busy_cycles": 2.5}, r"line\[0\]\.busy_cycles: must be a whole number"),
    ({"busy_tolerance": 0.9}, r"line\[0\]\.busy_tolerance: must be between 0\.05 and 0\.5"),
    ({"busy_cadence": 1}, r"line\[0\]\.busy_cadence: unknown key; did you mean 'busy_cycles'\?"),
])
def test_bad_cadence_values_name_the_key(keys: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(line(**keys))


def test_the_docstring_example_loads_with_the_v253_keys() -> None:
    doc = configuration.__doc__ or ""
    example = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert example is not None
    config = parse(tomllib.loads(example.group(1)))
    pots = next(c for c in config.lines if isinstance(c, V253LineConfig))
    assert pots.busy_hz == 425 and pots.busy_cycles == 2 and pots.dtmf == "detector"


def test_gsm_per_carrier_key_timing_reaches_the_drivers_timings() -> None:
    from firmware.config import GsmLineConfig

    (gsm,) = parse({"line": [{"name": "gsm0", "kind": "gsm", "port": "/dev/x", "sms_notice": True,
                              "timings": {"dedup_s": 0.4, "key_window_s": 1.0}}]}).lines
    assert isinstance(gsm, GsmLineConfig) and gsm.sms_notice and gsm.timings is not None
    assert (gsm.timings.dedup_s, gsm.timings.key_window_s) == (0.4, 1.0)
    assert GsmLineConfig(name="g", port="p").timings is None  # the driver's defaults
    with pytest.raises(ConfigError, match=r"line\[0\]\.timings\.dedup_s: must be above 0"):
        parse({"line": [{"name": "gsm0", "kind": "gsm", "port": "/dev/x", "timings": {"dedup_s": 0}}]})
