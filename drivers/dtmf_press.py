"""What a key press must satisfy: the receiver's limits, and the judgement of a finished run of windows.

A run is the windows of one key between two real gaps (`drivers.dtmf` bridges short drop-outs). Single windows
are only screened (12.75 ms readings are noisy and the other group's tone leaks into them); the press is judged
on its means: duration, mean frequency and its drift, levels, twist, the share of the power its two tones carry,
and whether the two tones are two harmonics of one voice (then the harmonics around them are there too).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .dtmf_spectrum import TONE_HZ, Complexes, SignalLimits, ToneBank, power_to_dbm0
from .dtmf_voice import VOICE_HALVES, twist_spread, voice_harmonics

#: one window's (lag row, lag column, power row, power column, total power), a row of `WindowTests.data`
WindowData = npt.NDArray[np.complex128]


@dataclass(frozen=True)
class DtmfSettings:
    """Receiver limits: the spec's must-accept/must-reject pairs (dtmf-receiver-spec.md), with our choice.

    * level: accept 0 to -25 dBm0 per tone, reject -55 (Q.24 AT&T); -38 keeps -25 with 8 dB twist.
    * twist (high minus low): accept +4 and -8 dB (Q.24 AT&T); reject +/-12 (DVSI, extended test): +8/-11.
      GSM FR moves a press's balance by -9..+5 dB, so -8 dB at the phone arrives at down to -17 dB; no
      limit keeps all of those and still rejects -12 dB (bench/dtmf/README.md). -11 is the widest that
      rejected all 400 bursts at +/-12 dB here (-11.5 let 3 through); GSM -8 dB digits err 10 % (28 % at -10).
    * relative peak: the other tones of a group at least 8 dB below the winner, per window (spandsp, Asterisk).
    * tone fraction: the two tones carry 72 % of the power (a third tone as strong as the pair leaves 67 %;
      white noise at 3 dB S/N per tone leaves 80 %). Windows are screened at 60 %.
    * frequency: accept +/-1.5 %, reject +/-3.5 % (Q.24 AT&T): the press's mean within 2.5 %, which also keeps
      Q.23 senders (+/-1.8 %). Drift, second half's mean minus the first's: a sweep or a voice's pitch glide
      moves both tones the same way, so both may not drift by more than 0.8 % in the same direction; one tone
      alone may (through GSM FR single tones drifted by up to 1.9 %). Windows are screened at 3.5 %, so a
      sweep makes a run long enough for its drift to show.
    * pair: the two tones' offsets may differ by 3.2 % at most (two senders' tones within +/-1.5 % differ by
      3 % at most). Two harmonics of a voice or an instrument that fit the 2.5 % windows only at opposite
      ends (column/row = 4/3 for `*`, 2 for `2`, 3/2 for `4`) are rejected.
    * voice harmonics: when the two tones are the k-th and m-th harmonics of one fundamental of 70-400 Hz
      (within 0.8 %), the harmonics around them (k-2, k+/-1, m+/-1, m+2), measured over the longest unbroken
      stretch of the press, must be 13 dB below the weaker tone. Speech has them (-8 dB and up, and down to
      -13.3 dB for a high voice whose formants hold one harmonic each); DTMF has them from noise, codecs and
      clipping only (-13 dB at 3 dB S/N, -23 dB for a clipped pair's intermodulation). Below a fundamental
      of 115 Hz the limit is -9 dB: harmonics are dense there, so a low voice's formants always hold several
      (its neighbours measure -8 dB and up), while DTMF pairs match some k/m by chance, and DTMF through
      GSM FR showed neighbours up to -10 dB there (probably its long-term predictor, lags of 66-200 Hz).
      Above 115 Hz weaker harmonics suffice with other signs of a voice: -15 dB when the tones' balance moves
      by more than 5.5 dB during the press (90th - 10th percentile of 6.4 ms readings; DTMF stays within
      2 dB, 4 dB at 3 dB S/N; GSM FR moves it up to 11 dB but showed no harmonics above 115 Hz), -16 dB for
      presses shorter than 40 ms. Not standard tests; see bench/dtmf/README.md.
    * duration: accept 40 ms, reject 20 ms (Q.24, ETSI ES 201 235-3): 35 ms of valid windows (edges by
      amplitude; 40 ms tones measure 37-40 ms at 3 dB S/N), the longer the fewer voice sounds pass.
    * gap: 40 ms between presses must split them, a 10 ms drop-out must not (Q.24, ETSI): 25 ms of missing tone.
    """

    min_level_dbm0: float = -38.0
    max_reverse_twist_db: float = 8.0
    max_normal_twist_db: float = 11.0
    min_relative_peak_db: float = 8.0
    min_tone_fraction: float = 0.72
    max_offset: float = 0.025
    max_drift: float = 0.008
    max_voice_harmonic_db: float = -13.0
    voice_low_f0_hz: float = 115.0
    max_voice_harmonic_low_f0_db: float = -9.0  # for fundamentals below voice_low_f0_hz
    max_voice_harmonic_moving_db: float = -15.0  # when the twist spread is above voice_twist_spread_db
    voice_twist_spread_db: float = 5.5
    max_voice_harmonic_short_db: float = -16.0  # for presses shorter than voice_short_s
    voice_short_s: float = 0.040
    max_pair_mismatch: float = 0.032
    min_duration_s: float = 0.035
    min_gap_s: float = 0.025
    min_valid_share: float = 0.6  # of the half-blocks from a run's first to last valid window
    window_margin_db: float = 3.0  # level and twist screens of single windows are this much wider
    window_min_fraction: float = 0.6
    window_max_offset: float = 0.035

    def limits(self) -> SignalLimits:
        """The per-window screen."""
        margin = self.window_margin_db
        return SignalLimits(self.min_level_dbm0 - margin, self.max_reverse_twist_db + margin,
                            self.max_normal_twist_db + margin, self.min_relative_peak_db, self.window_min_fraction,
                            self.window_max_offset)


@dataclass
class Press:
    """A run of windows holding one key, and the interruption in progress after its latest window."""

    key: int
    windows: list[int] = field(default_factory=list)
    data: list[WindowData] = field(default_factory=list)
    deficit: float = 0.0  # missing tone since the latest window, in half-blocks
    ref: tuple[float, float] | None = None  # the tones' reference amplitudes, once the run stops growing
    other: int = -1  # a different key seen in window `other_at`, kept so that it can start the next run
    other_at: int = -1
    other_data: WindowData | None = None
    held: bool = False  # continues a held key that has been reported already: never reported again

    @property
    def row(self) -> int:
        return self.key // 4

    @property
    def col(self) -> int:
        return 4 + self.key % 4

    @property
    def last(self) -> int:
        return self.windows[-1]

    def add(self, w: int, data: WindowData) -> None:
        self.windows.append(w)
        self.data.append(data)
        self.deficit, self.ref, self.other = 0.0, None, -1

    def covered(self) -> npt.NDArray[np.intp]:
        """The half-blocks of the run's windows (each window is its own half-block and the one before)."""
        windows = np.array(self.windows)
        mask = np.zeros(windows[-1] - windows[0] + 2, dtype=bool)
        mask[windows - windows[0]] = True
        mask[windows - windows[0] + 1] = True
        return np.flatnonzero(mask) + (windows[0] - 1)

    def steadiest(self, most: int) -> tuple[int, int]:
        """First and last half-block of the longest stretch of consecutive windows, at most `most` half-blocks
        from its middle (a bridged drop-out would smear the spectrum with sidebands)."""
        windows = np.array(self.windows)
        breaks = np.flatnonzero(np.diff(windows) != 1)
        starts = np.concatenate([[0], breaks + 1])
        stops = np.concatenate([breaks, [len(windows) - 1]])
        longest = int(np.argmax(stops - starts))
        first, last = int(windows[starts[longest]]) - 1, int(windows[stops[longest]])
        middle = (first + last) // 2
        return max(first, middle - most // 2), min(last, middle + most // 2)

    def reference(self, bins: Complexes, base: int, bank: ToneBank) -> tuple[float, float]:
        """Median amplitude of the two tones over the half-blocks of the valid windows (`bins[0]` is `base`)."""
        if self.ref is None:
            values = np.sort(tone_amplitudes(bank, self.key, bins[self.covered() - base]), axis=0)
            middle = (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2
            self.ref = (max(float(middle[0]), 1e-9), max(float(middle[1]), 1e-9))
        return self.ref


@dataclass(frozen=True)
class Verdict:
    """A judged run: `fault` is "" for a press, whose start and end are given in half-blocks."""

    fault: str
    detail: str  # the run's measurements, for debug logs
    start: float
    end: float


def tone_amplitudes(bank: ToneBank, key: int, bins: Complexes) -> npt.NDArray[np.float64]:
    """(n, 2) amplitudes of `key`'s row and column tone in half-blocks with these bins, leakage removed."""
    return np.abs(bins[:, [key // 4, 4 + key % 4]] @ bank.unmix[key].T)


def judge(press: Press, bins: Complexes, pcm: npt.NDArray[np.float64], base: int, upto: int,
          settings: DtmfSettings, bank: ToneBank) -> Verdict:
    """Judge a finished run; `bins` and `pcm` hold the tone bins and samples of half-blocks `base` .. `upto`."""
    ref = press.reference(bins, base, bank)
    halves = press.covered()
    first, last = int(halves[0]), int(halves[-1])
    lo, hi = max(first - 1, base), min(last + 1, upto)
    amp = tone_amplitudes(bank, press.key, bins[lo - base: hi + 1 - base]) / np.array(ref)

    def share(h: int) -> float:  # how much of half-block h the tones fill
        return float(min(amp[h - lo].min(), 1.0)) if lo <= h <= hi else 0.0

    edges = (share(first - 1), share(first), share(last), share(last + 1))
    duration = (len(halves) - 2 + sum(edges)) * bank.half / bank.rate
    valid_share = len(halves) / (last - first + 1)
    m = _measure(press, bank, twist_spread(amp[halves[1:-1] - lo]))
    fault = _fault(m, settings, duration, valid_share)
    voice = None
    if not fault:  # the costliest test last, and only for what would otherwise be a press
        start, stop = press.steadiest(VOICE_HALVES)
        voice = voice_harmonics(pcm[start - base: stop + 1 - base].ravel(), m.frequencies, bank.rate)
        fault = _voice_fault(voice, m, duration, settings)
    detail = (f"{duration * 1000:.0f} ms, {valid_share:.0%} valid, "
              f"offsets {m.offsets[0]:+.2%} {m.offsets[1]:+.2%}, drift {m.drift[0]:+.2%} {m.drift[1]:+.2%}, "
              f"ratio {m.ratio:.3f}, levels {m.levels[0]:.1f} {m.levels[1]:.1f} dBm0, twist spread "
              f"{m.twist_spread:.1f} dB, tones {m.fraction:.0%}, harmonics "
              + (f"{voice[0]:+.1f} dB ({voice[1]:.0f} Hz, f0 {voice[2]:.0f} Hz)" if voice else "none"))
    return Verdict(fault, detail, float(first + 1 - edges[1] - edges[0]), float(last + edges[2] + edges[3]))


@dataclass(frozen=True)
class _Measures:
    offsets: tuple[float, float]  # mean frequency offsets, as fractions of nominal
    drift: tuple[float, float]  # second half's mean offset minus the first half's
    ratio: float  # column over row frequency
    levels: tuple[float, float]  # dBm0
    fraction: float  # share of the power in the two tones
    frequencies: tuple[float, float]  # Hz
    twist_spread: float  # dB, see `drivers.dtmf_voice.twist_spread`


def _measure(press: Press, bank: ToneBank, twist_spread: float) -> _Measures:
    data = np.stack(press.data)
    tones = TONE_HZ[[press.row, press.col]]
    offsets = bank.offsets_hz(data[:, :2].sum(axis=0)) / tones
    drift = np.zeros(2)
    if len(data) >= 2:
        middle = len(data) // 2
        drift = (bank.offsets_hz(data[middle:, :2].sum(axis=0)) - bank.offsets_hz(data[:middle, :2].sum(axis=0)))
        drift = drift / tones
    gain = bank.window_gain(offsets * tones)
    row, col, total = data[:, 2:5].real.mean(axis=0).tolist()
    row, col = row / gain[0], col / gain[1]
    return _Measures(offsets=(float(offsets[0]), float(offsets[1])), drift=(float(drift[0]), float(drift[1])),
                     ratio=float(tones[1] * (1 + offsets[1]) / (tones[0] * (1 + offsets[0]))),
                     levels=(power_to_dbm0(row), power_to_dbm0(col)), fraction=(row + col) / max(total, 1e-30),
                     frequencies=(float(tones[0] * (1 + offsets[0])), float(tones[1] * (1 + offsets[1]))),
                     twist_spread=twist_spread)


def _voice_fault(voice: tuple[float, float, float] | None, m: _Measures, duration: float,
                 settings: DtmfSettings) -> str:
    """Why the press is a voice ("" when it is not): harmonics around the tones. Below `voice_low_f0_hz` they
    must be strong; above it weaker ones suffice, and weaker still when the press is also short or its tones'
    balance moves (each is common in speech, rare in DTMF)."""
    if voice is None:
        return ""
    if voice[2] < settings.voice_low_f0_hz:
        return "voice harmonics" if voice[0] > settings.max_voice_harmonic_low_f0_db else ""
    limit = settings.max_voice_harmonic_db
    if m.twist_spread > settings.voice_twist_spread_db:
        limit = min(limit, settings.max_voice_harmonic_moving_db)
    if duration < settings.voice_short_s:
        limit = min(limit, settings.max_voice_harmonic_short_db)
    return "voice harmonics" if voice[0] > limit else ""


def _fault(m: _Measures, settings: DtmfSettings, duration: float, valid_share: float) -> str:
    """Why a run is not a press ("" when it is one)."""
    if duration < settings.min_duration_s:
        return "too short"
    if valid_share < settings.min_valid_share:
        return "too few valid windows"
    if max(abs(m.offsets[0]), abs(m.offsets[1])) > settings.max_offset:
        return "off frequency"
    if m.drift[0] * m.drift[1] > 0 and min(abs(m.drift[0]), abs(m.drift[1])) > settings.max_drift:
        return "frequency drifts"
    if abs((1 + m.offsets[1]) / (1 + m.offsets[0]) - 1) > settings.max_pair_mismatch:
        return "tones off in opposite directions"
    twist = m.levels[1] - m.levels[0]
    if not -settings.max_normal_twist_db <= twist <= settings.max_reverse_twist_db:
        return "twist"
    if min(m.levels) < settings.min_level_dbm0:
        return "too weak"
    if m.fraction < settings.min_tone_fraction:
        return "tones carry too little of the power"
    return ""
