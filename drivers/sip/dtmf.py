"""Keypad digits over SIP: SIP INFO bodies, in-band tones, and one key per press whatever the method.

pjsua handles `application/dtmf-relay` INFO itself but only in one exact shape (`Signal=<key>` CRLF
`Duration=<ms>`; anything else gets 400) and ignores `application/dtmf`. The SIP front therefore rewrites every
DTMF INFO it recognises (`relay_body`) into that shape before pjsua sees it, so both kinds reach the same callback.

The pjsua2 pitfall: for RFC 4733 and for INFO, pjsua2 calls `Call.onDtmfEvent` *and then* `Call.onDtmfDigit`
for the same press (and `onDtmfEvent` again for every update packet). The worker listens to `onDtmfDigit` only.

In-band (`inband_dtmf = true`): each call's received audio goes to its own software detector (`InbandKeys`,
`drivers.dtmf.DtmfDetector`), which reports a press when the key is released. `KeyDeduper` then makes one key of
a press that a gateway signals several ways at once (RFC 4733, INFO, in-band): the rule and its windows are in
its docstring and in docs/sip.md.
"""
from __future__ import annotations

import array
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..line import KEYS

#: RFC 4733 event codes 0-15 → keys
EVENT_KEYS = "0123456789*#ABCD"
RELAY = "application/dtmf-relay"
PLAIN = "application/dtmf"
#: the key-report methods: pjsua2's PJSUA_DTMF_METHOD_RFC2833 and _SIP_INFO, and our own in-band detector
RFC4733, INFO, INBAND = 0, 1, -1
METHOD_NAMES = {RFC4733: "rfc4733", INFO: "info", INBAND: "in-band"}
#: two out-of-band reports (RFC 4733, INFO) of one key less than this many seconds apart are one press
SAME_PRESS_S = 0.25
#: an out-of-band report less than this many seconds before the in-band press's tones start, or after they end
#: (as the audio reached the bridge), is the same press: covers the jitter buffer (audio waits in it, RFC 4733
#: events do not), a gateway's own detection delay and INFO sent on key-up
INBAND_SAME_PRESS_S = 0.35
#: presses are remembered this long after they end (a held key is reported by the detector after 2 s)
REMEMBER_S = 3.0
#: the audio the in-band detector is fed: the conference bridge's rate (8 kHz mono, s16le)
INBAND_RATE = 8000
_SIGNAL = re.compile(r"^\s*signal\s*=\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_DURATION = re.compile(r"^\s*duration\s*=\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def key_of(token: str) -> str | None:
    """A keypad key from a Signal value or an application/dtmf body: "8", "*", "#", "A", or "10"/"11" codes."""
    token = token.strip().upper()
    if token.isdigit() and len(token) <= 2 and int(token) < len(EVENT_KEYS):
        return EVENT_KEYS[int(token)]
    return token if len(token) == 1 and token in KEYS else None


def key_from_info(content_type: str, body: str) -> str | None:
    """The key an INFO carries, or None when it is not DTMF (or not one we can read)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == RELAY:
        found = _SIGNAL.search(body)
        return key_of(found.group(1)) if found else None
    if kind == PLAIN:
        return key_of(body.strip().splitlines()[0]) if body.strip() else None
    return None


def relay_body(key: str, duration_ms: int = 160) -> bytes:
    """The one `application/dtmf-relay` shape pjsua accepts."""
    return f"Signal={key}\r\nDuration={max(1, duration_ms)}\r\n".encode("ascii")


def info_duration(body: str, default: int = 160) -> int:
    found = _DURATION.search(body)
    return int(found.group(1)) if found else default


@dataclass
class _Press:
    key: str
    methods: set[int]
    start: float
    end: float


class KeyDeduper:
    """One key per press, whatever the method and however many methods a gateway uses at once.

    A report joins an earlier press of the same key that no report of its own method has joined yet, when they are
    close: less than SAME_PRESS_S apart for two out-of-band reports, less than INBAND_SAME_PRESS_S between an
    out-of-band report and an in-band press's span (its tones from start to end, on the worker's clock). The earliest
    such press is taken, so "5 5" signalled both ways pairs up press by press. The same method twice is always two
    presses (people do press 1 1); pjmedia folds RFC 4733 retransmissions and the transaction layer INFO ones.
    """

    def __init__(self, window_s: float = SAME_PRESS_S, inband_window_s: float = INBAND_SAME_PRESS_S) -> None:
        self._window = window_s
        self._inband_window = inband_window_s
        self._presses: list[_Press] = []
        self.reports: dict[int, int] = {}  # reports per method, for the call's summary
        self.copies = 0

    def accept(self, key: str, method: int, start: float, end: float | None = None) -> bool:
        """True for a new press; False when this report is another method's copy of a press already reported.

        `start`/`end` are monotonic seconds: when the report arrived (out-of-band), or when the in-band press's
        tones began and ended.
        """
        end = start if end is None else end
        self.reports[method] = self.reports.get(method, 0) + 1
        self._presses = [p for p in self._presses if p.end > end - REMEMBER_S]
        for press in self._presses:
            window = self._inband_window if INBAND in press.methods or method == INBAND else self._window
            if press.key == key and method not in press.methods and _gap(press, start, end) < window:
                press.methods.add(method)
                press.start, press.end = min(press.start, start), max(press.end, end)
                self.copies += 1
                return False
        self._presses.append(_Press(key, {method}, start, end))
        return True


    def summary(self) -> str:
        """What a call's keys were made of (logged at its end: shows whether a gateway signals presses twice)."""
        methods = ", ".join(f"{METHOD_NAMES.get(m, str(m))} {n}" for m, n in sorted(self.reports.items()))
        return f"{sum(self.reports.values()) - self.copies} key(s) from {methods}; {self.copies} copies dropped"


def _gap(press: _Press, start: float, end: float) -> float:
    """Seconds between two spans of time; 0 when they overlap."""
    return max(0.0, start - press.end, press.start - end)


class HeardPress(Protocol):
    """A press as the detector reports it: seconds from the start of the audio it was fed."""

    @property
    def key(self) -> str: ...

    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...


class InbandDetector(Protocol):
    """A streaming DTMF receiver (`drivers.dtmf.DtmfDetector`): 8 kHz mono s16le in, ended presses out."""

    def feed(self, samples: bytes) -> Sequence[HeardPress]: ...


def new_inband_detector() -> InbandDetector:
    """One detector per call (it keeps the state of one stream). Imported here: numpy only where in-band is on."""
    from ..dtmf import DtmfDetector

    return DtmfDetector(rate=INBAND_RATE)


@dataclass(frozen=True)
class InbandPress:
    """An in-band press on the worker's monotonic clock: when its tones reached the bridge and when they ended."""

    key: str
    start: float
    end: float


class InbandKeys:
    """One call's in-band receiver: frames of received audio with their arrival times in, presses out.

    The detector counts time in samples fed; each batch of frames anchors that count to the monotonic clock (the
    last frame's samples ended when it arrived), so a press can be compared with RFC 4733 and INFO reports.
    """

    def __init__(self, detector: InbandDetector, rate: int = INBAND_RATE) -> None:
        self._detector = detector
        self._rate = rate
        self._samples = 0

    def feed(self, frames: Sequence[tuple[float, bytes]]) -> list[InbandPress]:
        if not frames:
            return []
        pcm = b"".join(data for _, data in frames)
        self._samples += len(pcm) // 2
        zero = frames[-1][0] - self._samples / self._rate  # the monotonic time of the stream's first sample
        return [InbandPress(p.key, zero + p.start, zero + p.end) for p in self._detector.feed(pcm)]


#: DTMF's row (low) and column (high) frequencies in Hz, and the keypad they span
_ROWS = (697, 770, 852, 941)
_COLUMNS = (1209, 1336, 1477, 1633)
_PAD = ("123A", "456B", "789C", "*0#D")


def tone_pcm(key: str, *, rate: int = INBAND_RATE, tone_s: float = 0.1, gap_s: float = 0.1,
             dbfs: float = -10.0) -> bytes:
    """A key as in-band DTMF (s16le mono): its two tones at `dbfs` each for `tone_s`, then `gap_s` of silence.

    Pure Python on purpose: the dialer makes a key's tones when it presses it, and importing numpy there took
    long enough on a loaded machine (0.3 s and more) that its next key cut this one short or off entirely.
    """
    row = next((i for i, keys in enumerate(_PAD) if len(key) == 1 and key in keys), None)
    if row is None:
        raise ValueError(f"not a DTMF key: {key!r}")
    low, high = _ROWS[row], _COLUMNS[_PAD[row].index(key)]
    amplitude = 32767 * 10 ** (dbfs / 20)
    step_low, step_high = 2 * math.pi * low / rate, 2 * math.pi * high / rate
    tone = array.array("h", (round(amplitude * (math.sin(step_low * n) + math.sin(step_high * n)))
                             for n in range(round(rate * tone_s))))
    tone.extend(array.array("h", bytes(2 * round(rate * gap_s))))  # silence
    if sys.byteorder != "little":
        tone.byteswap()
    return tone.tobytes()
