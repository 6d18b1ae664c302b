"""Has the caller gone? No single signal is reliable on an analog line, so several are combined:

* the modem's reports: `<DLE>b` busy, `<DLE>d` dial tone, `<DLE>l` loop-current drop (where the profile says it
  means a hang-up), `<DLE>s`/`<DLE>q` silence (where the profile applies +VSD);
* our own ear on the received audio: the busy tone's cadence (frequency, on/off, tolerance from V253Timings), a
  steady tone (dial tone) and silence while the box is quiet;
* outside this module: the modem's `AT+VIT` inactivity timer, our receive-stream watchdog and the call flow's
  timers.

Pure: int16 samples (line time) and shielded codes in, a reason out.
"""
from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from drivers.dtmf_spectrum import dbm0_to_power

from .profiles import Profile
from .timings import V253Timings

log = logging.getLogger(__name__)

RATE = 8000
BLOCK_S = 0.02
STEADY_TONE_S = 3.0  # a tone this long without a break is dial tone (or howler): the far end is gone
TONE_SHARE = 0.6  # the tone carries this share of a block's power


class ToneCadence:
    """A single-frequency tone's on/off pattern, 20 ms at a time (one DFT bin per block)."""

    def __init__(self, t: V253Timings, rate: int = RATE) -> None:
        self._t = t
        self._block = int(rate * BLOCK_S)
        phase = 2.0 * np.pi * t.busy_hz * np.arange(self._block) / rate
        self._basis = np.stack([np.cos(phase), np.sin(phase)], axis=1)
        self._min_power = dbm0_to_power(t.busy_min_dbm0)
        self._pending: npt.NDArray[np.float64] = np.zeros(0)
        self._state = False
        self._run = 0  # blocks in the current state
        self._segments: list[tuple[bool, float]] = []  # completed (on?, seconds), tone periods only

    def feed(self, samples: npt.NDArray[np.generic]) -> str | None:
        pcm = np.concatenate([self._pending, np.asarray(samples, dtype=np.float64)])
        whole = pcm.size // self._block * self._block
        self._pending = pcm[whole:]
        if not whole:
            return None
        blocks = pcm[:whole].reshape(-1, self._block)
        parts = blocks @ self._basis
        tone = 2.0 * (parts**2).sum(axis=1) / self._block**2
        total = (blocks**2).mean(axis=1)
        flags = (tone >= self._min_power) & (tone >= TONE_SHARE * total)
        for on in flags.tolist():
            found = self._step(bool(on))
            if found is not None:
                return found
        return None

    def reset(self) -> None:
        self._pending = np.zeros(0)
        self._state, self._run, self._segments = False, 0, []

    def _step(self, on: bool) -> str | None:
        if on == self._state:
            self._run += 1
            if on and self._run * BLOCK_S >= STEADY_TONE_S:
                return f"steady {self._t.busy_hz:g} Hz tone (dial tone)"
            return None
        if self._state or self._segments:  # silence before the first burst is not part of a cadence
            self._segments.append((self._state, self._run * BLOCK_S))
            del self._segments[:-2 * self._t.busy_cycles]
        self._state, self._run = on, 1
        return self._cadence() if on else None

    def _cadence(self) -> str | None:
        t = self._t
        if len(self._segments) < 2 * t.busy_cycles:
            return None
        for state, seconds in self._segments:
            nominal = t.busy_on_s if state else t.busy_off_s
            if abs(seconds - nominal) > t.busy_tolerance * nominal:
                return None
        return f"busy tone ({t.busy_hz:g} Hz, {t.busy_on_s:g}/{t.busy_off_s:g} s)"


class HangupWatch:
    def __init__(self, t: V253Timings, profile: Profile) -> None:
        self._t = t
        self._profile = profile
        self._tone = ToneCadence(t)
        self._silence_power = dbm0_to_power(t.silence_dbm0)
        self._silent_s = 0.0

    def audio(self, samples: npt.NDArray[np.generic], box_quiet: bool) -> str | None:
        """Received audio (line time); `box_quiet` when no prompt plays (only then can silence mean anything)."""
        if samples.size == 0:
            return None
        reason = self._tone.feed(samples)
        if reason is not None:
            return reason
        values = np.asarray(samples, dtype=np.float64)
        if not box_quiet or float((values**2).mean()) > self._silence_power:
            self._silent_s = 0.0
            return None
        self._silent_s += values.size / RATE
        if self._silent_s >= self._t.silence_s:
            return f"silence for {self._t.silence_s:g} s"
        return None

    def shielded(self, code: str, box_quiet: bool) -> str | None:
        if code == "b" or code == "K":
            return "busy tone (modem report)"
        if code == "d" or code == "i":
            return "dial tone (modem report)"
        if code == "l":
            if self._profile.loop_drop:
                return "loop current drop"
            log.info("loop-current break reported; not a hang-up on profile %s", self._profile.name)
        if code in ("s", "q") and self._profile.silence_reports and box_quiet:
            return "silence (modem report)"
        return None

    def box_spoke(self) -> None:
        """A prompt started: the caller's silence counts again from zero."""
        self._silent_s = 0.0

    def reset(self) -> None:
        self._tone.reset()
        self._silent_s = 0.0
