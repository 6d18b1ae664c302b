"""Signs that a dual tone is a voice (or an instrument) rather than a key press.

A voice is a comb of harmonics of one fundamental; when two of them fall on a row and a column frequency the
other DTMF tests can pass, most easily for a high voice whose formants each hold a single harmonic. The tell
is the rest of the comb: the harmonics next to the two tones. A voice's formants also move, so the balance of
the two tones changes during a syllable while a keypad's stays put. `drivers.dtmf_press` decides with these.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

#: at most this many half-blocks (about 75 ms), from the middle of a press, are searched for voice harmonics
VOICE_HALVES = 12
#: a fundamental in this range (Hz) is taken for a voice or an instrument
VOICE_F0 = (70.0, 400.0)
#: how close column/row must be to m/k for the tones to count as harmonics k and m (a voice's pitch moves
#: during a press, which blurs the mean frequencies a little)
VOICE_RATIO_TOLERANCE = 0.008


def voice_harmonics(samples: npt.NDArray[np.float64], tones: tuple[float, float], rate: int
                    ) -> tuple[float, float, float] | None:
    """If the two tones are harmonics k < m of one fundamental in `VOICE_F0`, the strongest harmonic around
    them (k - 2, k +/- 1, m +/- 1, m + 2) in dB relative to the weaker tone, its frequency and the fundamental;
    None when they are not.

    A Hann window over the press keeps the tones' own leakage at a neighbour (70 Hz or more away) below -30 dB.
    """
    low, high = tones
    around: list[tuple[float, float]] = []  # (frequency, fundamental)
    for k in range(max(2, math.ceil(low / VOICE_F0[1])), int(low / VOICE_F0[0]) + 1):
        m = round(high * k / low)
        if m <= k or abs(high * k / (m * low) - 1) > VOICE_RATIO_TOLERANCE:
            continue
        f0 = (low + high) / (k + m)  # both tones' evidence
        around += [(j * f0, f0) for j in {k - 2, k - 1, k + 1, m - 1, m + 1, m + 2} - {k, m}
                   if 200 < j * f0 < 0.45 * rate]
    if not around:
        return None
    # one zero-padded FFT (4 Hz bins or finer at 8 kHz) serves every frequency; each is read as the largest of its
    # three nearest bins, within 0.2 dB of the true peak under a Hann window of 75 ms
    size = 1 << max(11, (len(samples) - 1).bit_length())
    spectrum = np.abs(np.fft.rfft(samples * _hann(len(samples)), size)) ** 2
    at = np.rint(np.array([low, high, *(f for f, _ in around)]) * size / rate).astype(np.intp)
    power = np.maximum(np.maximum(spectrum[at - 1], spectrum[at]), spectrum[at + 1])
    levels = 10 * np.log10(np.maximum(power[2:], 1e-30) / max(min(power[0], power[1]), 1e-30))
    best = int(np.argmax(levels))
    return float(levels[best]), around[best][0], around[best][1]



def twist_spread(core: npt.NDArray[np.float64]) -> float:
    """How far the balance of the two tones moves during a press: 90th minus 10th percentile of the twist of
    the half-blocks where both tones are within 6 dB of their typical level (0 for fewer than 5)."""
    strong = core[(core > 0.5).all(axis=1)]
    if len(strong) < 5:
        return 0.0
    twist = np.sort(20 * np.log10(strong[:, 1] / strong[:, 0])).tolist()
    return _percentile(twist, 0.9) - _percentile(twist, 0.1)


def _percentile(ordered: list[float], q: float) -> float:
    """`np.percentile(values, 100 * q)` (linear interpolation, the same arithmetic) of sorted values: numpy's
    takes 60 us, a sixth of judging a press, for a handful of numbers."""
    at = q * (len(ordered) - 1)
    i = int(at)
    low, high = ordered[i], ordered[min(i + 1, len(ordered) - 1)]
    step, frac = high - low, at - i
    return low + step * frac if frac < 0.5 else high - step * (1 - frac)


@functools.lru_cache(maxsize=64)
def _hann(length: int) -> npt.NDArray[np.float64]:
    """A Hann window, built once per length (read-only: it is shared)."""
    window = np.hanning(length)
    window.flags.writeable = False
    return window
