"""One key per press when two sources report keys: the modem's own reports and our in-band DTMF receiver.

Field failure (bg111 #228, #28; wdoekes #68): a carrier's DTMF reports go missing, or a short tone reads as an
endless one. Where the call audio reaches us (GSM usb-pcm) our detector listens too, and `PressMerger` makes one
key of a press both report. The rule is the SIP line's (`drivers.sip.dtmf.KeyDeduper`), with named sources: a
report joins an earlier press of the same key that no report of its own source has joined yet, when the two are
less than `window_s` apart (a report's span: its arrival for a modem report, the tones' start to end for an
in-band press); the same source twice is always two presses (people do press 1 1). `InbandKeys` puts the
detector's presses, counted in samples, on the monotonic clock the modem reports arrive on.
(Shared helper: the SIP line's KeyDeduper/InbandKeys could use these; drivers/sip is left as it is.)
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

MODEM, INBAND = "modem", "in-band"
#: presses are remembered this long after they end (a held key is reported by the detector after 2 s)
REMEMBER_S = 3.0


@dataclass
class _Press:
    key: str
    sources: set[str]
    start: float
    end: float


@dataclass
class PressMerger:
    """Merges key reports of several sources into presses; see the module docstring for the rule."""

    window_s: float
    remember_s: float = REMEMBER_S
    reports: dict[str, int] = field(default_factory=dict)
    copies: int = 0
    _presses: list[_Press] = field(default_factory=list)

    def accept(self, key: str, source: str, start: float, end: float | None = None) -> bool:
        """True for a new press; False when this report is another source's copy of a press already counted."""
        end = start if end is None else end
        self.reports[source] = self.reports.get(source, 0) + 1
        self._presses = [p for p in self._presses if p.end > end - self.remember_s]
        for press in self._presses:
            gap = max(0.0, start - press.end, press.start - end)
            if press.key == key and source not in press.sources and gap < self.window_s:
                press.sources.add(source)
                press.start, press.end = min(press.start, start), max(press.end, end)
                self.copies += 1
                return False
        self._presses.append(_Press(key, {source}, start, end))
        return True

    def reset(self) -> None:
        self._presses.clear()

    def summary(self) -> str:
        """What a call's keys were made of (logged at its end: shows whether a carrier's reports go missing)."""
        sources = ", ".join(f"{name} {count}" for name, count in sorted(self.reports.items()))
        return f"{sum(self.reports.values()) - self.copies} key(s) from {sources or 'nothing'}; " \
               f"{self.copies} copies dropped"


class HeardPress(Protocol):
    """A press as `drivers.dtmf.DtmfDetector` reports it: seconds from the start of the audio it was fed."""

    @property
    def key(self) -> str: ...

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


class Detector(Protocol):
    def feed(self, samples: bytes) -> Sequence[HeardPress]: ...


@dataclass(frozen=True)
class TimedPress:
    """An in-band press on the monotonic clock: when its tones arrived and when they ended."""

    key: str
    start: float
    end: float


class InbandKeys:
    """One call's received audio (8 kHz s16le) with arrival times in, presses on the monotonic clock out.

    `speed` > 1 when the far end is a simulator running that many times faster (its audio too): one second of
    samples then took 1/speed seconds to arrive."""

    def __init__(self, detector: Detector, rate: int = 8000, speed: float = 1.0) -> None:
        self._detector = detector
        self._rate = rate
        self._speed = speed
        self._samples = 0
        self._odd = b""  # a read may end in the middle of a sample

    def feed(self, pcm: bytes, arrived: float) -> list[TimedPress]:
        pcm = self._odd + pcm
        cut = len(pcm) - len(pcm) % 2
        pcm, self._odd = pcm[:cut], pcm[cut:]
        if not pcm:
            return []
        self._samples += len(pcm) // 2
        wall = 1.0 / self._speed
        zero = arrived - self._samples / self._rate * wall  # when the stream's first sample arrived
        return [TimedPress(p.key, zero + p.start * wall, zero + p.end * wall) for p in self._detector.feed(pcm)]
