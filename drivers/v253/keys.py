"""One key per press, whatever reported it.

`ModemKeys` reads the modem's `<DLE>` DTMF reports: a `<DLE>/ ... <DLE>~` frame is one press however many digit
reports it holds, and without framing a report of the same key within `dedup_s` of the previous one is the same
press (IS-101 repeats `<DLE>d` about every 70 ms while a key is held; thess #13: "Caller pressed: 000").
`KeyGate` merges two sources (the modem's reports and our detector): the same key from the other source within
`cross_s` is the same press; the same source twice is two presses (people do press 1 1).
"""
from __future__ import annotations

from drivers.line import KEYS

MODEM, DETECTOR = "modem", "detector"
#: some tables label * and # as E and F
ALIASES = {"E": "*", "F": "#"}


class ModemKeys:
    def __init__(self, dedup_s: float) -> None:
        self._dedup_s = dedup_s
        self._framed = False
        self._framed_key: str | None = None
        self._last: tuple[str, float] | None = None

    def report(self, code: str, now: float) -> str | None:
        """A shielded code; the key when it starts a new press, else None."""
        if code == "/":
            self._framed, self._framed_key = True, None
            return None
        if code == "~":
            self._framed, self._framed_key = False, None
            return None
        key = ALIASES.get(code, code)
        if key not in KEYS:
            return None
        last, self._last = self._last, (key, now)
        if self._framed:
            if self._framed_key is not None:
                return None
            self._framed_key = key
            return key
        if last is not None and last[0] == key and now - last[1] < self._dedup_s:
            return None
        return key

    def reset(self) -> None:
        self._framed, self._framed_key, self._last = False, None, None


def is_key_code(code: str) -> bool:
    return code in ("/", "~") or ALIASES.get(code, code) in KEYS


class KeyGate:
    def __init__(self, cross_s: float) -> None:
        self._cross_s = cross_s
        self._last: tuple[str, str, float] | None = None

    def accept(self, key: str, source: str, now: float) -> bool:
        last = self._last
        if last is not None and last[0] == key and last[1] != source and now - last[2] < self._cross_s:
            return False
        self._last = (key, source, now)
        return True

    def reset(self) -> None:
        self._last = None
