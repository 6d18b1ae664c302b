"""A software DTMF receiver for linear PCM: a streaming detector that reports each key press once.

Feed it PCM in blocks of any size (bytes of signed 16-bit little-endian samples, or a numpy array in int16
units) and it returns the key presses that have ended; `flush()` ends the stream. The acceptance limits follow
shared/reference/dtmf-receiver-spec.md (values and sources in `DtmfSettings`).

How it decides: every 6.4 ms a 12.75 ms window is screened for one strong tone per group (`drivers.dtmf_screen`,
vectorised over the windows of a batch; tone bins from `drivers.dtmf_spectrum`). Windows of one key make a run; a
drop-out inside it is bridged while the missing tone energy adds up to less than `min_gap_s`. When the run ends it
is judged as a whole (`drivers.dtmf_press`): duration, mean frequency and drift, levels, twist, energy share, voice
harmonics. A press is therefore reported when the key is released (about `min_gap_s` after the tones stop), with
its start and end; a key held down is reported after `MAX_PRESS_S`.
"""
from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .dtmf_press import DtmfSettings, Press, WindowData, judge, tone_amplitudes
from .dtmf_screen import window_screen
from .dtmf_spectrum import FEATURES, KEY_BY_INDEX, Complexes, WindowTests, tone_bank

__all__ = ["DtmfDetector", "DtmfEvent", "DtmfSettings", "decode"]

log = logging.getLogger(__name__)

#: an interruption this long always ends a run, even if the tones' amplitude never drops (e.g. talk-down)
MAX_INTERRUPTION_S = 1.0
#: a key held longer than this is reported then (with this as its end), and once only
MAX_PRESS_S = 2.0


@dataclass(frozen=True)
class DtmfEvent:
    """One key press: `key` is one of 0-9 * # A-D; `start`/`end` are seconds from the start of the stream."""

    key: str
    start: float
    end: float


Pcm = bytes | bytearray | memoryview | npt.NDArray[np.generic]


class DtmfDetector:
    """Streaming DTMF receiver for one audio stream at `rate` Hz (8000 on a phone line; any rate >= 4000).

    Audio is analysed once `batch` half-blocks (6.4 ms each) have arrived, twice as many while no key is down and
    two more while one is held (`_next_batch`): a press is decided at the earliest 60 ms after its tones begin
    (35 ms of tone, 25 ms of gap) and 2 windows after a held key's last one (another key, twice), so with the
    default 12 a press is reported at most about 90 ms after the window that decides it (in 20 ms frames,
    measured: at most 124 ms after its tones end). Each analysis costs a few dozen numpy calls whatever its
    size, so the drivers' 20 ms frames cost a fraction of what `batch=1` would; results never depend on it.
    """

    def __init__(self, rate: int = 8000, settings: DtmfSettings | None = None, batch: int = 12) -> None:
        self.settings = settings or DtmfSettings()
        self._batch = max(1, batch)
        self._bank = tone_bank(rate)
        self._screen = window_screen(rate, self.settings.limits())
        self._seconds_per_half = self._bank.half / rate
        self._reset()

    @property
    def rate(self) -> int:
        return self._bank.rate

    def _reset(self) -> None:
        # audio not analysed yet: float arrays, then bytes (a sample may be split across two byte blocks)
        self._chunks: list[npt.NDArray[np.float64]] = []
        self._queued = 0  # samples in _chunks
        self._raw = bytearray()
        self._count = 0  # half-blocks analysed so far
        self._last = np.zeros(FEATURES)  # the features of the latest half-block analysed
        # tone bins and samples of half-blocks _base, _base + 1, ... (what a run may still need)
        self._bins: Complexes = np.zeros((0, 8), dtype=np.complex128)
        self._pcm = np.zeros((0, self._bank.half))
        self._base = 0
        self._run: Press | None = None

    def feed(self, samples: Pcm) -> list[DtmfEvent]:
        """Analyse more audio; return the presses that ended in it. Block boundaries never change the result."""
        if isinstance(samples, np.ndarray):
            if samples.ndim != 1:
                raise ValueError(f"expected one channel of samples, got an array of shape {samples.shape}")
            self._queue_raw()
            self._chunks.append(samples.astype(np.float64))
            self._queued += samples.size
        else:
            self._raw += samples  # the cheap path for 20 ms frames: bytes wait here until a batch is complete
        half = self._bank.half
        batch = self._next_batch()
        if self._queued + len(self._raw) // 2 < batch * half:
            return []
        pcm = self._take()
        whole = pcm.size // half * half
        if whole < pcm.size:
            self._chunks, self._queued = [pcm[whole:]], pcm.size - whole
        return self._analyse(pcm[:whole].reshape(-1, half))

    def _next_batch(self) -> int:
        """Half-blocks to wait for before the next analysis: as many as keep a press's report within `batch`
        windows of the window that decides it (see the class docstring)."""
        run = self._run
        if run is None:
            return 2 * self._batch  # a press is decided 60 ms (9 windows) after its tones begin at the earliest
        if run.last == self._count - 1 and run.other < 0:
            # the key is down: its press is decided 2 windows later at the earliest (another key, twice), or when
            # it has been held MAX_PRESS_S
            held_until = run.windows[0] + int(MAX_PRESS_S / self._seconds_per_half)
            return min(self._batch + 2, max(self._batch, held_until - self._count + self._batch))
        return self._batch

    def flush(self) -> list[DtmfEvent]:
        """End the stream: report a press still in progress. The detector then starts a new stream at time 0."""
        # what is pending, then silence: the last windows see the tones end
        pending = self._take()
        tail = np.zeros((-pending.size) % self._bank.half + 2 * self._bank.half)
        events = self._analyse(np.concatenate([pending, tail]).reshape(-1, self._bank.half))
        if self._run is not None:
            events += self._close(self._run, self._count - 1)
        self._reset()
        return events

    def _queue_raw(self) -> None:
        """Move the whole samples of the byte queue to the array queue (an odd byte stays)."""
        even = len(self._raw) // 2 * 2
        if even:
            self._chunks.append(np.frombuffer(self._raw, dtype="<i2", count=even // 2).astype(np.float64))
            self._queued += even // 2
            del self._raw[:even]

    def _take(self) -> npt.NDArray[np.float64]:
        """Everything queued, as one array; the queue is then empty (but for an odd byte)."""
        self._queue_raw()
        pcm = self._chunks[0] if len(self._chunks) == 1 else np.concatenate(self._chunks or [np.zeros(0)])
        self._chunks, self._queued = [], 0
        return pcm

    def _analyse(self, blocks: npt.NDArray[np.float64]) -> list[DtmfEvent]:
        features = self._bank.features(blocks, self._last)  # each window is a half-block and the one before
        self._last = features[-1]
        bins = self._bank.as_bins(features)
        sums, squares = features[:, 16], features[:, 17]
        tests = self._screen.screen(bins, sums[:-1] + sums[1:], squares[:-1] + squares[1:], self._run is not None)
        if self._count == 0 and tests.key[0] >= 0:
            tests.key[0] = -1  # the first half-block has no predecessor: no window yet
        base = self._count
        self._count += len(blocks)
        if self._run is None and not tests.any:  # nothing in progress, nothing found: keep the last two only
            self._bins, self._pcm, self._base = bins[-2:], blocks[-2:], self._count - 2
            return []
        self._bins = np.concatenate([self._bins, bins[1:]])
        self._pcm = np.concatenate([self._pcm, blocks])
        events = self._walk(base, tests)
        keep_from = self._count - 2 if self._run is None else self._run.windows[0] - 2
        if keep_from > self._base:
            self._bins = self._bins[keep_from - self._base:]
            self._pcm = self._pcm[keep_from - self._base:]
            self._base = keep_from
        return events

    def _walk(self, base: int, tests: WindowTests) -> list[DtmfEvent]:
        """Run the press state machine over windows base .. base + len(tests.key) - 1."""
        events: list[DtmfEvent] = []
        keys = tests.key
        valid = (keys >= 0).nonzero()[0].tolist()
        if not valid and self._run is None:
            return events
        i = 0
        while i < len(keys):
            if self._run is None:  # skip straight to the next window that holds a key
                j = bisect.bisect_left(valid, i)
                if j == len(valid):
                    break
                i = valid[j]
            key = int(keys[i])
            data = tests.data[i]
            if self._run is None:
                self._run = Press(key)
                self._run.add(base + i, data)
            else:
                events += self._step(self._run, base + i, key, data)
            i += 1
        return events

    def _step(self, run: Press, w: int, key: int, data: WindowData) -> list[DtmfEvent]:
        """Window `w` (holding `key`, -1 for none) during a run: extend it, bridge a drop-out or end it."""
        if key == run.key:
            if (w - run.windows[0]) * self._seconds_per_half < MAX_PRESS_S:
                run.add(w, data)
                return []
            # a key held down: judge what we have (bounding memory); the rest is the same press
            events = self._close(run, w - 1)
            self._run = Press(key, held=bool(events) or run.held)
            self._run.add(w, data)
            return events
        if key >= 0:
            if run.other == key and run.other_at == w - 1:  # a different key, twice in a row: a new press
                events = self._close(run, w - 2)
                self._run = Press(key)
                assert run.other_data is not None  # set together with run.other
                self._run.add(w - 1, run.other_data)
                self._run.add(w, data)
                return events
            run.other, run.other_at, run.other_data = key, w, data
        ref = run.reference(self._bins, self._base, self._bank)
        a = tone_amplitudes(self._bank, run.key, self._bins[w - self._base: w - self._base + 1])[0]
        run.deficit += 1.0 - min(a[0] / ref[0], a[1] / ref[1], 1.0)
        if (run.deficit * self._seconds_per_half < self.settings.min_gap_s
                and (w - run.last) * self._seconds_per_half < MAX_INTERRUPTION_S):
            return []
        events = self._close(run, w)
        self._run = None
        if key >= 0:
            self._run = Press(key)
            self._run.add(w, data)
        return events

    def _close(self, run: Press, upto: int) -> list[DtmfEvent]:
        """Judge a finished run; the half-blocks up to `upto` are known."""
        verdict = judge(run, self._bins, self._pcm, self._base, upto, self.settings, self._bank)
        key = KEY_BY_INDEX[run.key]
        log.debug("key %s at %.3f s %s: %s", key, verdict.start * self._seconds_per_half,
                  f"rejected, {verdict.fault}" if verdict.fault else "accepted", verdict.detail)
        if verdict.fault or run.held:
            return []
        return [DtmfEvent(key, verdict.start * self._seconds_per_half, verdict.end * self._seconds_per_half)]


def decode(samples: Pcm, rate: int = 8000, settings: DtmfSettings | None = None) -> list[DtmfEvent]:
    """Every press in a whole recording (one `feed` and a `flush`)."""
    detector = DtmfDetector(rate, settings)
    return detector.feed(samples) + detector.flush()
