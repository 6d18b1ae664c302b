"""One call at a time on an analog line: RING and caller ID become `IncomingCall`, keys become `KeyPressed`, any
sign of the caller going away becomes one `RemoteHangup`.

Pure: lines and signals in, with time from an injected clock; line events out. Caller ID (Bellcore-style FSK)
arrives after the first RING, usually before the second; some exchanges send it later, some before the first
RING (ETSI), some never. The call is announced as soon as a record with NMBR is complete (`cid_settle_s` after
NMBR, or at the next RING), else when `cid_window_s` after the first RING has passed, as withheld.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.serialmodem.privacy import mask_number
from drivers.line import IncomingCall, KeyPressed, LineEvent
from drivers.serialmodem.callphase import ACTIVE, IDLE, RINGING, CallPhases

from .callerid import CallerIdRecord, CidField, is_hex_packet, parse_hex_packet, parse_line
from .timings import V253Timings

log = logging.getLogger(__name__)

WAITING_CID = "waiting-cid"


class CallTracker(CallPhases):
    def __init__(self, line: str, clock: Callable[[], float], timings: V253Timings) -> None:
        super().__init__(line)
        self._clock = clock
        self._t = timings
        self._record: CallerIdRecord | None = None
        self._record_at = 0.0
        self._complete_at: float | None = None
        self._first_ring = 0.0
        self._last_ring = 0.0
        self.rings = 0

    # -- what the modem said ---------------------------------------------------------------------------------------
    def ring(self) -> list[LineEvent]:
        now = self._clock()
        self._last_ring = now
        if self.phase == IDLE:
            self.phase, self.rings, self._first_ring = WAITING_CID, 1, now
            if self._record is not None and now - self._record_at > self._t.cid_window_s:
                self._record, self._complete_at = None, None  # a stale record from an earlier call
            return []
        self.rings += 1
        if self.phase == WAITING_CID and self._record is not None and self._record.has_number_field:
            return self._announce("caller ID complete at the next RING")
        return []

    def caller_id(self, text: str) -> None:
        """A formatted caller-ID line or an unformatted hex packet; anything unreadable is logged and skipped."""
        found = parse_line(text)
        if found is not None:
            self._take(found)
            return
        packet = parse_hex_packet(text) if is_hex_packet(text) else None
        if packet is None:
            log.warning("%s: unreadable caller-ID line (%d characters) ignored", self._line, len(text))
        else:
            self._take_record(packet)

    def poll(self) -> list[LineEvent]:
        now = self._clock()
        if self.phase == WAITING_CID:
            if self._complete_at is not None and now >= self._complete_at:
                return self._announce("caller ID complete")
            if now - self._first_ring >= self._t.cid_window_s:
                return self._announce(f"caller-ID window of {self._t.cid_window_s:g} s over")
            if now - self._last_ring >= self._t.ring_gone_s:
                log.info("%s: ringing stopped before the call was announced", self._line)
                self._reset()
        elif self.phase == RINGING and now - self._last_ring >= max(self._t.ring_gone_s, self._t.cid_window_s):
            return self.drop("ringing stopped before the answer")
        return []

    def key(self, key: str) -> list[LineEvent]:
        if not self.connected or self.call_id is None:
            log.debug("%s: key with no answered call ignored", self._line)
            return []
        return [KeyPressed(self.call_id, key)]

    # -- inside ----------------------------------------------------------------------------------------------------
    def _log(self) -> logging.Logger:
        return log

    def _take(self, item: CidField) -> None:
        if self.phase not in (IDLE, WAITING_CID):
            log.info("%s: caller-ID %s after the call was announced: ignored", self._line, item.tag)
            return
        if self._record is None:
            self._record, self._record_at = CallerIdRecord(), self._clock()
        self._record.add(item)
        if item.tag == "NMBR":
            self._complete_at = self._clock() + self._t.cid_settle_s

    def _take_record(self, record: CallerIdRecord) -> None:
        if self.phase not in (IDLE, WAITING_CID):
            log.info("%s: caller-ID packet after the call was announced: ignored", self._line)
            return
        self._record, self._record_at = record, self._clock()
        if record.has_number_field:
            self._complete_at = self._clock()

    def _announce(self, why: str) -> list[LineEvent]:
        record = self._record
        number = record.number if record is not None else None
        call_id = self._ringing()
        self._record, self._complete_at = None, None
        if number is None:
            absence = record.absence if record is not None and record.absence else "no caller ID"
            log.info("%s: incoming call %s, caller unknown (%s; %s)", self._line, call_id, absence, why)
        else:
            log.info("%s: incoming call %s from %s (%s)", self._line, call_id, mask_number(number), why)
        return [IncomingCall(call_id, number)]

    def _reset(self) -> None:
        super()._reset()
        self.rings = 0
        self._complete_at = None
