"""The vectorised half of the DTMF receiver: tone bins of short blocks and the per-window signal tests.

Audio is cut into half-blocks of H samples (51 at 8 kHz, 6.4 ms). One matrix product gives, for every half-block,
the complex DFT coefficient at each of the eight DTMF frequencies. Two consecutive half-blocks make one analysis
window of N = 2H samples (102 at 8 kHz, the block length spandsp uses), so windows overlap by half and a decision
is taken every 6.4 ms. From the two halves of a window we get, for free:

* the coherent window power of each tone (selective: the other tones of a group sit near the window's nulls);
* the frequency offset of each tone, from the phase advance between the halves (unambiguous to +/- fs/N Hz);
* the DC-free total power of the window, for the "the two tones carry the energy" test against talk-off.

Nothing here keeps state; `drivers.dtmf` runs the per-stream state machine over these arrays.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: ITU-T Q.23 low (row) and high (column) group frequencies in Hz.
ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COL_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
TONE_HZ = np.array(ROW_HZ + COL_HZ)
#: key at (row, column)
KEYPAD = ("123A", "456B", "789C", "*0#D")
#: keys by index row * 4 + column, the index `WindowTests.key` holds (-1: no key)
KEY_BY_INDEX = "".join(KEYPAD)
#: mean power (int16 units squared) of a full-scale sine: +3.14 dBm0 (A-law; see dtmf-receiver-spec.md section 0)
FULL_SCALE_SINE_POWER = 32767.0**2 / 2.0
FULL_SCALE_SINE_DBM0 = 3.14

#: `ToneBank.features` columns: the eight tone bins as (real, imaginary), then the sum and the sum of squares
FEATURES = 18

Floats = npt.NDArray[np.float64]
Complexes = npt.NDArray[np.complex128]
Ints = npt.NDArray[np.intp]


def dbm0_to_power(dbm0: float) -> float:
    """Mean power in int16 units squared of a sine at `dbm0` dBm0."""
    return FULL_SCALE_SINE_POWER * 10.0 ** ((dbm0 - FULL_SCALE_SINE_DBM0) / 10.0)


def power_to_dbm0(power: float) -> float:
    """Inverse of `dbm0_to_power` (very small powers give a very negative number, never an error)."""
    return 10.0 * float(np.log10(max(power, 1e-30) / FULL_SCALE_SINE_POWER)) + FULL_SCALE_SINE_DBM0


@dataclass(frozen=True)
class SignalLimits:
    """Per-window screen limits (derived from `drivers.dtmf_press.DtmfSettings`, which documents the sources)."""

    min_level_dbm0: float
    max_reverse_twist_db: float
    max_normal_twist_db: float
    min_relative_peak_db: float
    min_tone_fraction: float
    max_window_offset: float


class ToneBank:
    """The eight DTMF tone bins for half-blocks of `half` samples at `rate` Hz (a matrix product per batch)."""

    def __init__(self, rate: int) -> None:
        if rate < 4000:
            raise ValueError(f"sample rate {rate} Hz cannot carry DTMF (needs >= 4000 Hz)")
        self.rate = rate
        self.half = max(2, round(51 * rate / 8000))
        self.window = 2 * self.half
        n = np.arange(self.half, dtype=np.float64)
        angles = 2.0 * np.pi * np.outer(n, TONE_HZ) / rate
        # cos and -sin columns interleaved, so that one real matrix product yields the complex bins (viewed as
        # complex, without a copy), and a column of ones for the sums
        self._basis = np.column_stack([np.stack([np.cos(angles), -np.sin(angles)], axis=2).reshape(self.half, 16),
                                       np.ones(self.half)])
        # phase turn of each tone over one half-block: puts the second half on the first half's time reference
        self.turn = np.exp(-2j * np.pi * TONE_HZ * self.half / rate)
        self.hz_per_radian = rate / (2.0 * np.pi * self.half)  # phase advance over a half-block -> Hz
        self.unmix, self.leak = self._unmixing()

    def _unmixing(self) -> tuple[Complexes, Complexes]:
        """Per key (row * 4 + column): the 2x2 matrix that removes each tone's leakage into the other's bin, and
        the (2, 8) leakage of each tone into all eight bins, as a share of its value in its own bin.

        A half-block's row bin also holds the column tone seen through the rectangular window's sidelobes
        (-16 dB at 941/1209 Hz): left in, it biases a weak tone's level and frequency by several dB and percent,
        and beats with the other bins of the weak tone's group in the relative-peak test. The tones'
        negative-frequency images are more than 8 bins away and are left alone.
        """
        n = np.arange(self.half)

        def kernel(f: float, g: float) -> complex:
            return complex(np.exp(2j * np.pi * (f - g) * n / self.rate).sum())

        unmix = np.empty((16, 2, 2), dtype=np.complex128)
        leak = np.empty((16, 2, 8), dtype=np.complex128)
        for key in range(16):
            pair = (ROW_HZ[key // 4], COL_HZ[key % 4])
            mix = np.array([[self.half, kernel(pair[1], pair[0])], [kernel(pair[0], pair[1]), self.half]])
            unmix[key] = self.half * np.linalg.inv(mix)
            leak[key] = [[kernel(f, g) / self.half for g in TONE_HZ] for f in pair]
        return unmix, leak

    def features(self, blocks: Floats, before: Floats) -> Floats:
        """For blocks of shape (n, half): `FEATURES` numbers per row, the first row `before`, then one per block:
        its eight tone bins (real and imaginary parts interleaved: `as_bins` views them), sum and sum of squares."""
        out = np.empty((len(blocks) + 1, FEATURES))
        out[0] = before
        np.matmul(blocks, self._basis, out=out[1:, :17])
        out[1:, 17] = np.einsum("ij,ij->i", blocks, blocks)
        return out

    @staticmethod
    def as_bins(features: Floats) -> Complexes:
        """The complex tone bins (n, 8) of `features` rows, a view."""
        return features[:, :16].view(np.complex128)

    def offsets_hz(self, lag: Complexes) -> Floats:
        """Frequency offsets in Hz from lag products `second * conj(first)` of consecutive half-blocks."""
        return np.angle(lag) * self.hz_per_radian

    def window_gain(self, offset_hz: Floats) -> Floats:
        """Power gain of the coherent N-sample window for a tone `offset_hz` away from the bin (1 on the bin)."""
        x = np.pi * offset_hz / self.rate
        small = np.abs(x) < 1e-9
        safe = np.where(small, 1.0, x)
        gain = (np.sin(self.window * safe) / (self.window * np.sin(safe))) ** 2
        return np.where(small, 1.0, gain)


@functools.lru_cache(maxsize=8)
def tone_bank(rate: int) -> ToneBank:
    """The (read-only) tone bank for `rate`, built once per rate."""
    return ToneBank(rate)


@dataclass(frozen=True)
class WindowTests:
    """Per window: the key index that passed every screen (-1: none), and for its strongest row and column tone
    what a press is judged on (leakage between the two removed)."""

    key: Ints
    # (n, 5): row and column lag products (second half * conj(first half), whose phase gives the frequency),
    # row and column coherent window power (a sine of amplitude A gives A**2 / 2), and the window's mean power
    # with DC removed; powers are real numbers held as complex so that one row is one window
    data: Complexes

    @property
    def any(self) -> bool:
        """Whether any window holds a key."""
        return bool((self.key >= 0).any())
