"""The per-window screen of the DTMF receiver: which windows hold one strong tone per group, and which key.

Every window (a half-block and the one before, see `drivers.dtmf_spectrum`) is screened on level, twist,
relative peak, the share of the power its two tones carry and frequency. The screen is loose where a single
window's reading is noisy (`SignalLimits` carries the margins); the press as a whole is judged on its means
(`drivers.dtmf_press`).

Speed is what shapes this module. The drivers feed 20 ms frames, so a batch holds 8 to 16 windows and each numpy
call costs about a microsecond whatever its size: the number of calls per batch is the cost. Hence:

* a cheap necessary test first: an upper bound of the two tones' corrected power, from the magnitudes of the
  raw bins, against the level and energy-fraction limits. Silence, line noise and most of speech fail it, and a
  batch without a survivor costs about twenty calls;
* the exact screen only for the survivors, with everything that depends on the key (unmixing, leakage, phase
  turns, limits, which bins are "the others") gathered from one per-key table in a single call.
"""
from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from .dtmf_spectrum import (TONE_HZ, Complexes, Floats, Ints, SignalLimits, ToneBank, WindowTests, dbm0_to_power,
                            tone_bank)

#: column layout of the per-key table (complex numbers; real quantities are held in the real part)
_UNMIX = slice(0, 4)  # the 2x2 unmixing matrix of the key's row and column bins
_LEAK = slice(4, 36)  # (half, tone, bin): each unmixed tone's leakage into the eight bins, second half turned
_TURN = slice(36, 38)  # the row and column tone's phase turn over one half-block
_LIMIT = slice(38, 40)  # the frequency limit of the row and column tone, as a phase advance (radians)
_OTHERS = slice(40, 48)  # 1 for the bins other than the key's two, 0 for those two
_COLUMNS = 48
#: the first and the second half-block of a window, as offsets from the window's first half-block
_HALVES = np.array([[0], [1]])
#: below this phase advance a tone is taken as on its bin (the window gain is then 1 within 1e-14)
_ON_BIN = 1e-9


class WindowScreen:
    """Screens all windows of a batch at once, for one tone bank and one set of limits."""

    def __init__(self, bank: ToneBank, limits: SignalLimits) -> None:
        self.bank, self.limits = bank, limits
        n = bank.window
        self._scale = 2.0 / float(n * n)  # |coherent bin|**2 -> mean power of the sine
        self._min_power = dbm0_to_power(limits.min_level_dbm0)
        # row_c <= col_c * normal and col_c <= row_c * reverse, as one comparison against the swapped pair
        self._twist = np.array([10.0 ** (limits.max_normal_twist_db / 10.0),
                                10.0 ** (limits.max_reverse_twist_db / 10.0)])
        self._rel_amplitude = 10.0 ** (limits.min_relative_peak_db / 20.0)
        limit_hz = limits.max_window_offset * TONE_HZ
        # The bound: with U the key's unmixing matrix, |row tone| <= |U00| |coherent row bin| + |U01| (|first
        # half's column bin| + |second half's|), likewise for the column; the window-gain correction divides by
        # at most the gain at the frequency limit. Taking the largest |U| of all keys and the group's largest
        # corrected bin keeps it an upper bound whichever key wins; 1e-6 covers rounding.
        magnitude = np.abs(bank.unmix)
        self._own = float(magnitude[:, [0, 1], [0, 1]].max())
        self._cross = float(magnitude[:, [0, 1], [1, 0]].max())
        self._inv_gain = 1.0 / np.sqrt(bank.window_gain(limit_hz))  # per tone, amplitude
        self._inv_gain_group = self._inv_gain.reshape(2, 4).max(axis=1)
        self._bound_scale = self._scale * (1.0 + 1e-6)
        self._table, self._pairs = self._key_table(limit_hz)

    def _key_table(self, limit_hz: Floats) -> tuple[Complexes, Ints]:
        """One row of `_COLUMNS` per key, and each key's (row bin, column bin)."""
        bank = self.bank
        table = np.zeros((16, _COLUMNS), dtype=np.complex128)
        pairs = np.array([(key // 4, 4 + key % 4) for key in range(16)], dtype=np.intp)
        for key, pair in enumerate(pairs):
            table[key, _UNMIX] = bank.unmix[key].ravel()
            table[key, _LEAK] = np.stack([bank.leak[key], bank.leak[key] * bank.turn]).ravel()
            table[key, _TURN] = bank.turn[pair]
            table[key, _LIMIT] = limit_hz[pair] / bank.hz_per_radian
            table[key, _OTHERS] = 1.0
            table[key, 40 + pair] = 0.0
        return table, pairs

    def screen(self, bins: Complexes, sums: Floats, squares: Floats, tones_likely: bool = False) -> WindowTests:
        """Windows 1 .. len(bins) - 1 of half-blocks `bins` (each window: a half-block and the one before);
        `sums`/`squares` are the sample sums and sums of squares of each whole window. `tones_likely` (a key is
        down) skips the bound, which most windows would pass anyway; the result is the same."""
        n = self.bank.window
        count = len(bins) - 1
        coherent = bins[:-1] + bins[1:] * self.bank.turn
        total = (squares - sums * sums / n) / n
        amplitude = np.abs(coherent)
        if tones_likely:
            passed, keys, data = self._exact(bins, coherent, amplitude, np.arange(count), total)
            return WindowTests(key=np.where(passed, keys, -1), data=data)
        magnitudes = np.abs(bins)
        high = (amplitude * self._inv_gain).reshape(count, 2, 4).max(axis=2) * self._own
        high += (magnitudes[:-1] + magnitudes[1:]).reshape(count, 2, 4).max(axis=2)[:, ::-1] * (
            self._cross * self._inv_gain_group)
        high = high * high * self._bound_scale
        maybe = (high.min(axis=1) >= self._min_power) & (high.sum(axis=1) >= self.limits.min_tone_fraction * total)
        chosen = maybe.nonzero()[0]
        if chosen.size == 0:
            return _nothing(count)
        if chosen.size == count:  # typical while a key is down
            passed, keys, data = self._exact(bins, coherent, amplitude, chosen, total)
            return WindowTests(key=np.where(passed, keys, -1), data=data)
        passed, keys, values = self._exact(bins, coherent[chosen], amplitude[chosen], chosen, total[chosen])
        key = np.full(count, -1, dtype=np.intp)
        key[chosen[passed]] = keys[passed]
        data = np.zeros((count, 5), dtype=np.complex128)
        data[chosen] = values
        return WindowTests(key=key, data=data)

    def _exact(self, bins: Complexes, coherent: Complexes, amplitude: Floats, chosen: Ints, total: Floats
               ) -> tuple[npt.NDArray[np.bool_], Ints, Complexes]:
        """The full screen of the windows `chosen` (whose coherent bins, their magnitudes and total power are
        given): which passed, their keys, and their `WindowTests.data` rows."""
        count = len(chosen)
        keys = np.argmax(amplitude[:, :4], axis=1) * 4 + np.argmax(amplitude[:, 4:], axis=1)
        table = self._table[keys]
        pair = self._pairs[keys]
        # the pair's bins in both halves: (window, half, tone), each tone with the other's leakage removed
        halves = bins[chosen[:, None, None] + _HALVES, pair[:, None, :]]
        tones = np.einsum("nij,nsj->nsi", table[:, _UNMIX].reshape(count, 2, 2), halves)
        # what is left in the eight bins once the two tones (and their leakage) are taken out
        rest = coherent - np.einsum("nst,nstg->ng", tones, table[:, _LEAK].reshape(count, 2, 2, 8))
        first = tones[:, 0]
        turned = tones[:, 1] * table[:, _TURN]
        lag = turned * np.conj(first)
        tone = np.abs(first + turned)
        tone_power = self._scale * tone * tone
        advance = np.abs(np.arctan2(lag.imag, lag.real))
        limit = table[:, _LIMIT].real
        # undo the window's loss for a detuned tone (bounded by the frequency limit, so noise cannot inflate it)
        x = np.maximum(np.minimum(advance, limit), _ON_BIN)
        shrink = np.sin(x) / (self.bank.window * np.sin(x * (1.0 / self.bank.window)))
        corrected = tone_power / (shrink * shrink)
        fine = (corrected >= self._min_power) & (corrected <= corrected[:, ::-1] * self._twist) & (advance <= limit)
        others = (np.abs(rest) * table[:, _OTHERS].real).reshape(count, 2, 4).max(axis=2)
        fine &= others * self._rel_amplitude <= tone
        passed = fine.all(axis=1) & (corrected.sum(axis=1) >= self.limits.min_tone_fraction * total)
        values = np.empty((count, 5), dtype=np.complex128)
        values[:, :2], values[:, 2:4], values[:, 4] = lag, tone_power, total
        return passed, keys, values


@functools.lru_cache(maxsize=64)
def _nothing(count: int) -> WindowTests:
    """`count` windows without a key (read-only, shared)."""
    key, data = np.full(count, -1, dtype=np.intp), np.zeros((count, 5), np.complex128)
    key.flags.writeable = data.flags.writeable = False
    return WindowTests(key=key, data=data)


@functools.lru_cache(maxsize=8)
def window_screen(rate: int, limits: SignalLimits) -> WindowScreen:
    """The (read-only) screen for `rate` and `limits`, built once: every call's detector shares it."""
    return WindowScreen(tone_bank(rate), limits)
