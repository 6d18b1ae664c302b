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
        # cos columns then sin columns: one real matrix product yields real and imaginary parts
        self._basis = np.concatenate([np.cos(angles), np.sin(angles)], axis=1)
        # phase turn of each tone over one half-block: puts the second half on the first half's time reference
        self.turn = np.exp(-2j * np.pi * TONE_HZ * self.half / rate)
        self._hz_per_radian = rate / (2.0 * np.pi * self.half)
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

    def bins(self, blocks: Floats) -> tuple[Complexes, Floats, Floats]:
        """For blocks of shape (n, half): complex bins (n, 8), sums (n,) and sums of squares (n,)."""
        product = blocks @ self._basis
        bins = product[:, :8] - 1j * product[:, 8:]
        return bins, blocks.sum(axis=1), np.einsum("ij,ij->i", blocks, blocks)

    def offsets_hz(self, lag: Complexes) -> Floats:
        """Frequency offsets in Hz from lag products `second * conj(first)` of consecutive half-blocks."""
        return np.angle(lag) * self._hz_per_radian

    def window_gain(self, offset_hz: Floats) -> Floats:
        """Power gain of the coherent N-sample window for a tone `offset_hz` away from the bin (1 on the bin)."""
        x = np.pi * offset_hz / self.rate
        small = np.abs(x) < 1e-9
        safe = np.where(small, 1.0, x)
        gain = (np.sin(self.window * safe) / (self.window * np.sin(safe))) ** 2
        return np.where(small, 1.0, gain)

    def windows(self, prev: Complexes, cur: Complexes) -> tuple[Complexes, Complexes]:
        """Coherent window bins and half-block lag products for windows made of `prev` then `cur` half-blocks."""
        turned = cur * self.turn
        return prev + turned, turned * np.conj(prev)


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


def screen_windows(bank: ToneBank, limits: SignalLimits, prev: Complexes, cur: Complexes,
                   sums: Floats, squares: Floats) -> WindowTests:
    """Screen every window at once on level, twist, relative peak, energy fraction and frequency.

    `prev`/`cur` are the bins of each window's first and second half-block; `sums`/`squares` are the sample sums
    and sums of squares over each whole window. The screen is loose where a single window's reading is noisy
    (`SignalLimits` carries the margins); the press as a whole is judged on its means (`drivers.dtmf_press`).
    """
    n = bank.window
    coherent, _ = bank.windows(prev, cur)
    power = 2.0 * (coherent.real**2 + coherent.imag**2) / float(n * n)
    rows = np.argmax(power[:, :4], axis=1)
    cols = np.argmax(power[:, 4:], axis=1)
    idx = np.arange(len(rows))
    pair = np.stack([rows, 4 + cols], axis=1)
    keys = rows * 4 + cols
    first = np.einsum("nij,nj->ni", bank.unmix[keys], prev[idx[:, None], pair])
    second = np.einsum("nij,nj->ni", bank.unmix[keys], cur[idx[:, None], pair])
    # what is left in the eight bins once the two tones (and their leakage) are taken out
    rest, _ = bank.windows(prev - np.einsum("nt,ntg->ng", first, bank.leak[keys]),
                           cur - np.einsum("nt,ntg->ng", second, bank.leak[keys]))
    rest_power = 2.0 * (rest.real**2 + rest.imag**2) / float(n * n)
    turned = second * bank.turn[pair]
    lag = turned * np.conj(first)
    both = first + turned
    tone_power = 2.0 * (both.real**2 + both.imag**2) / float(n * n)
    tones = TONE_HZ[pair]
    limit_hz = limits.max_window_offset * tones
    offset = bank.offsets_hz(lag)
    # undo the window's loss for a detuned tone (bounded by the frequency limit, so noise cannot inflate it much)
    corrected = tone_power / bank.window_gain(np.clip(offset, -limit_hz, limit_hz))
    row_c, col_c = corrected[:, 0], corrected[:, 1]
    total = (squares - sums * sums / n) / n
    ok = np.minimum(row_c, col_c) >= dbm0_to_power(limits.min_level_dbm0)
    ok &= col_c <= row_c * 10.0 ** (limits.max_reverse_twist_db / 10.0)
    ok &= row_c <= col_c * 10.0 ** (limits.max_normal_twist_db / 10.0)
    ok &= row_c + col_c >= limits.min_tone_fraction * total
    ok &= np.all(np.abs(offset) <= limit_hz, axis=1)
    rel = 10.0 ** (limits.min_relative_peak_db / 10.0)
    rest_power[idx, rows] = 0.0
    rest_power[idx, 4 + cols] = 0.0
    ok &= rest_power[:, :4].max(axis=1) * rel <= tone_power[:, 0]
    ok &= rest_power[:, 4:].max(axis=1) * rel <= tone_power[:, 1]
    key = np.where(ok, keys, -1).astype(np.intp)
    return WindowTests(key=key, data=np.column_stack([lag, tone_power, total]))
