"""One call at a time on a modem: ring and caller ID become `IncomingCall`, key reports become one `KeyPressed`
per press, any sign of the far end going away becomes one `RemoteHangup`.

Pure: signals in with time from an injected clock, line events out. The caller ID may arrive before RING (some
EG25/EC25 firmware), with it, in a call-state URC, or never (then, after `clip_wait_s`, the caller is withheld).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.line import IncomingCall, KeyPressed, LineEvent, RemoteHangup

from .privacy import mask_number
from .signals import CallEnded, CallerId, CallState, Key, Ring, Signal

log = logging.getLogger(__name__)

IDLE, WAITING_CLIP, RINGING, ANSWERING, ACTIVE = "idle", "waiting-clip", "ringing", "answering", "active"


class CallTracker:
    def __init__(self, line: str, clock: Callable[[], float], clip_wait_s: float, dedup_s: float) -> None:
        self._line = line
        self._clock = clock
        self._clip_wait_s = clip_wait_s
        self._dedup_s = dedup_s
        self._calls = 0
        self.phase = IDLE
        self.call_id: str | None = None
        self._clip_deadline = 0.0
        self._last_key: tuple[str, float] | None = None

    @property
    def calls(self) -> int:
        return self._calls

    def signal(self, sig: Signal) -> list[LineEvent]:
        if isinstance(sig, Ring):
            if self.phase == IDLE:
                self.phase = WAITING_CLIP
                self._clip_deadline = self._clock() + self._clip_wait_s
            return []
        if isinstance(sig, CallerId):
            return self._announce(sig.number) if self.phase in (IDLE, WAITING_CLIP) else []
        if isinstance(sig, CallState):
            return self._call_state(sig)
        if isinstance(sig, CallEnded):
            return self.drop(sig.reason)
        if isinstance(sig, Key):
            return self._key(sig.key)
        return []

    def poll(self) -> list[LineEvent]:
        if self.phase == WAITING_CLIP and self._clock() >= self._clip_deadline:
            log.info("%s: no caller ID within %.1f s of RING: treated as withheld", self._line, self._clip_wait_s)
            return self._announce(None)
        return []

    def answering(self, call_id: str) -> bool:
        """The box answers `call_id`: True when that call is ringing (send ATA)."""
        if call_id != self.call_id or self.phase != RINGING:
            return False
        self.phase = ANSWERING
        return True

    def answered(self) -> None:
        if self.phase == ANSWERING:
            self.phase = ACTIVE

    def is_current(self, call_id: str) -> bool:
        return call_id == self.call_id and self.phase in (RINGING, ANSWERING, ACTIVE)

    @property
    def connected(self) -> bool:
        return self.phase in (ANSWERING, ACTIVE)

    def end_by_box(self) -> None:
        """We hung up: no event follows."""
        self._reset()

    def drop(self, reason: str) -> list[LineEvent]:
        """The call is gone (far end, network or modem trouble): RemoteHangup if the box knew of it."""
        call_id, phase = self.call_id, self.phase
        self._reset()
        if call_id is None or phase not in (RINGING, ANSWERING, ACTIVE):
            if phase == WAITING_CLIP:
                log.info("%s: ringing stopped before a caller ID (%s)", self._line, reason)
            return []
        log.info("%s: call %s ended: %s", self._line, call_id, reason)
        return [RemoteHangup(call_id)]

    # -- inside ----------------------------------------------------------------------------------------------------
    def _announce(self, number: str | None) -> list[LineEvent]:
        self._calls += 1
        self.call_id = f"{self._line}-{self._calls}"
        self.phase = RINGING
        self._last_key = None
        log.info("%s: incoming call %s from %s", self._line, self.call_id, mask_number(number))
        return [IncomingCall(self.call_id, number)]

    def _call_state(self, sig: CallState) -> list[LineEvent]:
        if sig.state == "incoming" and sig.incoming and self.phase in (IDLE, WAITING_CLIP):
            return self._announce(sig.number)
        if sig.state == "released":
            return self.drop("released (call-state report)")
        if sig.state == "active":
            self.answered()
        return []

    def _key(self, key: str) -> list[LineEvent]:
        if self.phase not in (ANSWERING, ACTIVE) or self.call_id is None:
            log.info("%s: key report with no answered call ignored", self._line)
            return []
        now = self._clock()
        previous = self._last_key
        self._last_key = (key, now)
        if previous is not None and previous[0] == key and now - previous[1] < self._dedup_s:
            log.debug("%s: repeated report of one key press dropped", self._line)
            return []
        return [KeyPressed(self.call_id, key)]

    def _reset(self) -> None:
        self.phase = IDLE
        self.call_id = None
        self._last_key = None
