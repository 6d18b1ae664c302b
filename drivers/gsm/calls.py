"""One call at a time on a modem: ring and caller ID become `IncomingCall`, key reports become one `KeyPressed`
per press, any sign of the far end going away becomes one `RemoteHangup`.

Pure: signals in with time from an injected clock, line events out. The caller ID may arrive before RING (some
EG25/EC25 firmware), with it, in a call-state URC, or never (then, after `clip_wait_s`, the caller is withheld).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.line import IncomingCall, KeyPressed, LineEvent
from drivers.serialmodem.callphase import ACTIVE, ANSWERING, IDLE, CallPhases

from drivers.serialmodem.privacy import mask_number
from .signals import CallEnded, CallerId, CallState, Key, Ring, Signal

log = logging.getLogger(__name__)

WAITING_CLIP = "waiting-clip"


class CallTracker(CallPhases):
    def __init__(self, line: str, clock: Callable[[], float], clip_wait_s: float, dedup_s: float) -> None:
        super().__init__(line)
        self._clock = clock
        self._clip_wait_s = clip_wait_s
        self._dedup_s = dedup_s
        self._clip_deadline = 0.0
        self._last_key: tuple[str, float] | None = None

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

    def _gone_unannounced(self, phase: str, reason: str) -> None:
        if phase == WAITING_CLIP:
            log.info("%s: ringing stopped before a caller ID (%s)", self._line, reason)

    def _log(self) -> logging.Logger:
        return log

    # -- inside ----------------------------------------------------------------------------------------------------
    def _announce(self, number: str | None) -> list[LineEvent]:
        call_id = self._ringing()
        self._last_key = None
        log.info("%s: incoming call %s from %s", self._line, call_id, mask_number(number))
        return [IncomingCall(call_id, number)]

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
        super()._reset()
        self._last_key = None
