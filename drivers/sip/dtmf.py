"""Keypad digits over SIP: SIP INFO bodies, one key per press across methods, and the in-band hook.

pjsua handles `application/dtmf-relay` INFO itself but only in one exact shape (`Signal=<key>` CRLF
`Duration=<ms>`; anything else gets 400) and ignores `application/dtmf`. The SIP front therefore rewrites every
DTMF INFO it recognises (`relay_body`) into that shape before pjsua sees it, so both kinds reach the same callback.

The pjsua2 pitfall: for RFC 4733 and for INFO, pjsua2 calls `Call.onDtmfEvent` *and then* `Call.onDtmfDigit`
for the same press (and `onDtmfEvent` again for every update packet). The worker listens to `onDtmfDigit` only,
and `KeyDeduper` drops the copy of a press that a gateway signals both ways (RFC 4733 and INFO) at once.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from ..line import KEYS

#: RFC 4733 event codes 0-15 → keys
EVENT_KEYS = "0123456789*#ABCD"
RELAY = "application/dtmf-relay"
PLAIN = "application/dtmf"
#: a press signalled by a second method within this many seconds is the same press
SAME_PRESS_S = 0.25
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


class KeyDeduper:
    """One key per press: a key repeated by *another* method within SAME_PRESS_S is a duplicate.

    The same method twice is two presses (people do press 1 1); pjmedia already folds RFC 4733 retransmissions
    and the SIP transaction layer folds INFO retransmissions.
    """

    def __init__(self, window_s: float = SAME_PRESS_S) -> None:
        self._window = window_s
        self._last: tuple[str, int, float] | None = None

    def accept(self, key: str, method: int, now: float) -> bool:
        last = self._last
        if last is not None and last[0] == key and last[1] != method and now - last[2] < self._window:
            return False
        self._last = (key, method, now)
        return True


class InbandDetector(Protocol):
    """The software DTMF detector (a later issue): 8 kHz mono s16le audio in, keys out."""

    def feed(self, pcm: bytes) -> list[str]: ...


#: THE HOOK for `inband_dtmf = true`: set to a factory when the software detector lands; the worker then taps each
#: call's received audio into one detector per call. Until then a line configured for in-band DTMF refuses to start.
INBAND_DETECTOR_FACTORY: Callable[[], InbandDetector] | None = None
