"""Has the caller gone? The busy tone's cadence (configurable), a steady tone, silence while the box is quiet,
and the modem's reports as each profile means them."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.dtmf_spectrum import dbm0_to_power
from drivers.v253.hangup import HangupWatch
from drivers.v253.profiles import CX93010, GENERIC, USR5637
from drivers.v253.samples import from_int16, to_int16
from drivers.v253.simaudio import FarAudio
from drivers.v253.timings import V253Timings

RATE = 8000
T = V253Timings()


def tone(seconds: float, hz: float = 425.0, dbm0: float = -15.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.sqrt(2 * dbm0_to_power(dbm0)) * np.sin(2 * np.pi * hz * t)


def cadence(on: float, off: float, cycles: int, hz: float = 425.0) -> np.ndarray:
    return np.concatenate([np.concatenate([tone(on, hz), np.zeros(int(off * RATE))]) for _ in range(cycles)])


def first_reason(watch: HangupWatch, samples: np.ndarray, box_quiet: bool = True, block: int = 160) -> float | None:
    """Feed in 20 ms blocks; the line time at which a reason came, or None."""
    for start in range(0, samples.size, block):
        if watch.audio(samples[start:start + block], box_quiet) is not None:
            return (start + block) / RATE
    return None


def test_busy_tone_is_recognised_by_its_cadence_after_two_cycles() -> None:
    signal = np.concatenate([np.zeros(4000), cadence(0.5, 0.5, 4)])
    when = first_reason(HangupWatch(T, GENERIC), signal)
    assert when is not None and 0.5 + 1.9 <= when <= 0.5 + 2.1


def test_busy_tone_survives_8_bit_quantisation_and_the_simulators_far_end() -> None:
    far = FarAudio()
    far.busy_from(800)
    decoded = to_int16("u8", from_int16("u8", far.render(0, 4 * RATE)))
    assert first_reason(HangupWatch(T, GENERIC), decoded.astype(float)) is not None


@pytest.mark.parametrize(("on", "off"), [(0.25, 0.25), (1.0, 4.0), (0.2, 0.8)])
def test_other_cadences_are_not_busy(on: float, off: float) -> None:
    assert first_reason(HangupWatch(T, GENERIC), cadence(on, off, 6)) is None


def test_the_cadence_is_configurable() -> None:
    congestion = V253Timings(busy_on_s=0.25, busy_off_s=0.25)
    assert first_reason(HangupWatch(congestion, GENERIC), cadence(0.25, 0.25, 6)) is not None
    other_hz = V253Timings(busy_hz=400.0)
    assert first_reason(HangupWatch(other_hz, GENERIC), cadence(0.5, 0.5, 4, hz=400.0)) is not None


def test_a_steady_tone_is_a_dial_tone() -> None:
    when = first_reason(HangupWatch(T, GENERIC), tone(4.0))
    assert when is not None and 2.9 <= when <= 3.1


def test_dtmf_keys_and_other_tones_are_not_busy() -> None:
    far = FarAudio()
    for n, key in enumerate("80123456789#"):
        far.key(key, n * 2000)
    assert first_reason(HangupWatch(T, GENERIC), far.render(0, 12 * 2000), box_quiet=False) is None
    assert first_reason(HangupWatch(T, GENERIC), cadence(0.5, 0.5, 4, hz=1000.0)) is None


def test_silence_counts_only_while_the_box_is_quiet() -> None:
    quiet = V253Timings(silence_s=4.0)
    watch = HangupWatch(quiet, GENERIC)
    assert first_reason(watch, np.zeros(10 * RATE), box_quiet=False) is None
    when = first_reason(watch, np.zeros(10 * RATE), box_quiet=True)
    assert when is not None and abs(when - 4.0) < 0.03


def test_a_sound_or_a_prompt_starts_the_silence_over() -> None:
    watch = HangupWatch(V253Timings(silence_s=4.0), GENERIC)
    assert first_reason(watch, np.zeros(3 * RATE)) is None
    assert first_reason(watch, tone(0.1, hz=1000.0)) is None
    assert first_reason(watch, np.zeros(3 * RATE)) is None
    watch.box_spoke()
    assert first_reason(watch, np.zeros(int(3.9 * RATE))) is None


def test_modem_reports_as_each_profile_means_them() -> None:
    usr, cx = HangupWatch(T, USR5637), HangupWatch(T, CX93010)
    assert usr.shielded("b", box_quiet=False) == cx.shielded("b", box_quiet=False) == "busy tone (modem report)"
    assert usr.shielded("d", box_quiet=False) == "dial tone (modem report)"
    assert cx.shielded("l", box_quiet=False) == "loop current drop"
    assert usr.shielded("l", box_quiet=False) is None  # no -STE: a line reversal, not a hang-up
    assert usr.shielded("s", box_quiet=True) == "silence (modem report)"
    assert usr.shielded("s", box_quiet=False) is None  # the box was speaking
    assert cx.shielded("s", box_quiet=True) is None  # +VSD is not applied on Conexant
    assert usr.shielded("R", box_quiet=True) is None
