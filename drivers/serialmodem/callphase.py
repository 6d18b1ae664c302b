"""`CallPhases`: the box's side of one call at a time on a modem line — phases, call ids, answer and drop —
shared by the drivers' call trackers, which add how a call is announced (RING, caller ID, call-state reports)."""
from __future__ import annotations

import logging

from drivers.line import LineEvent, RemoteHangup

log = logging.getLogger(__name__)

IDLE, RINGING, ANSWERING, ACTIVE = "idle", "ringing", "answering", "active"
KNOWN = (RINGING, ANSWERING, ACTIVE)  # phases in which the box knows of the call


class CallPhases:
    def __init__(self, line: str) -> None:
        self._line = line
        self._calls = 0
        self.phase = IDLE
        self.call_id: str | None = None

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def connected(self) -> bool:
        return self.phase in (ANSWERING, ACTIVE)

    def answering(self, call_id: str) -> bool:
        """The box answers `call_id`: True when that call is ringing (send the answer command)."""
        if call_id != self.call_id or self.phase != RINGING:
            return False
        self.phase = ANSWERING
        return True

    def answered(self) -> None:
        if self.phase == ANSWERING:
            self.phase = ACTIVE

    def is_current(self, call_id: str) -> bool:
        return call_id == self.call_id and self.phase in KNOWN

    def end_by_box(self) -> None:
        """We hung up: no event follows."""
        self._reset()

    def drop(self, reason: str) -> list[LineEvent]:
        """The call is gone (far end, network or modem trouble): RemoteHangup if the box knew of it."""
        call_id, phase = self.call_id, self.phase
        self._reset()
        if call_id is None or phase not in KNOWN:
            self._gone_unannounced(phase, reason)
            return []
        self._log().info("%s: call %s ended: %s", self._line, call_id, reason)
        return [RemoteHangup(call_id)]

    # -- for the trackers ------------------------------------------------------------------------------------------
    def _ringing(self) -> str:
        """A new call is announced: its id; the phase is RINGING."""
        self._calls += 1
        self.call_id = f"{self._line}-{self._calls}"
        self.phase = RINGING
        return self.call_id

    def _gone_unannounced(self, phase: str, reason: str) -> None:
        """Ringing stopped before the call was announced (phase is the tracker's own waiting phase, or IDLE)."""

    def _log(self) -> logging.Logger:
        return log

    def _reset(self) -> None:
        self.phase = IDLE
        self.call_id = None
