"""The far end of a simulated phone line, as audio: the caller's keys as DTMF tone pairs, the exchange's busy tone
after the caller hangs up and a faint noise floor, rendered by absolute sample index in int16 units. Shared by the
V.253 and GSM (usb-pcm) simulators, which both send it to the driver as the call's received audio.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from drivers.dtmf_spectrum import dbm0_to_power

RATE = 8000
KEY_S = 0.1  # a person's key press, line seconds
KEY_DBM0 = -10.0  # per tone
BUSY_DBM0 = -15.0
NOISE_DBM0 = -70.0
_ROWS, _COLS = (697.0, 770.0, 852.0, 941.0), (1209.0, 1336.0, 1477.0, 1633.0)
_LAYOUT = "123A456B789C*0#D"
Floats = npt.NDArray[np.float64]


def _amplitude(dbm0: float) -> float:
    return float(np.sqrt(2.0 * dbm0_to_power(dbm0)))


class FarAudio:
    """The caller's side of the line, rendered by absolute sample index (line time × 8000)."""

    def __init__(self, *, busy_hz: float = 425.0, busy_on_s: float = 0.5, busy_off_s: float = 0.5,
                 seed: int = 253) -> None:
        self._tones: list[tuple[int, int, float, float]] = []
        self._busy_from: int | None = None
        self._busy = (busy_hz, busy_on_s, busy_off_s)
        self._rng = np.random.default_rng(seed)
        self.last_sound = 0  # sample index after the last tone or key

    def key(self, key: str, at: int) -> int:
        """A key press starting at sample `at`; returns where it ends."""
        index = _LAYOUT.index(key)
        end = at + int(KEY_S * RATE)
        self._tones.append((at, end, _ROWS[index // 4], _COLS[index % 4]))
        self.last_sound = max(self.last_sound, end)
        return end

    def busy_from(self, at: int | None) -> None:
        self._busy_from = at

    @property
    def busy(self) -> bool:
        return self._busy_from is not None

    def render(self, start: int, count: int) -> Floats:
        index = np.arange(start, start + count, dtype=np.float64)
        out = self._rng.normal(0.0, np.sqrt(dbm0_to_power(NOISE_DBM0)), count)
        amplitude = _amplitude(KEY_DBM0)
        for begin, end, low, high in self._tones:
            mask = (index >= begin) & (index < end)
            if mask.any():
                t = index[mask] / RATE
                out[mask] += amplitude * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
        self._tones = [tone for tone in self._tones if tone[1] > start + count]
        if self._busy_from is not None:
            hz, on, off = self._busy
            since = (index - self._busy_from) / RATE
            mask = (since >= 0) & (np.mod(since, on + off) < on)
            out[mask] += _amplitude(BUSY_DBM0) * np.sin(2 * np.pi * hz * index[mask] / RATE)
            self.last_sound = start + count
        return out
