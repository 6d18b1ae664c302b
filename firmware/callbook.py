"""The daemon's book of calls: which calls are in progress on which line, whether new calls are taken, and the
call records the journal could not take yet (a full disk) kept in memory and written again until they land.

Every call is noted in the journal when it rings (`Journal.begin_call`) and moved to the call log when it ends,
so a call cut by a crash or SIGKILL is journalled at the next start (`Journal.close_interrupted`).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from typing import Any

from drivers.clock import Scheduler
from drivers.line import IncomingCall, Line, LineEvent, RemoteHangup

from .appliance import Appliance, Switchboard
from .call_session import CallSession, Checker
from .journal import CallRecord, JournalError
from .phone import mask_phone

log = logging.getLogger(__name__)

#: call records kept in memory while the journal cannot take them; beyond this the oldest is dropped (logged)
MAX_BACKLOG = 1000


class CallBook:
    def __init__(self, appliance: Appliance) -> None:
        self._appliance = appliance
        self.accepting = True
        self.refused = 0
        self.in_progress: dict[str, tuple[str, CallSession]] = {}  # call_ref -> (line, session)
        self.backlog: deque[CallRecord] = deque()
        self.last_error: str | None = None

    # -- from the switchboards (loop thread) -----------------------------------------------------------------------
    def opened(self, line: str, session: CallSession, caller: str | None) -> None:
        self.in_progress[session.call_ref] = (line, session)
        try:
            self._appliance.journal.begin_call(call_ref=session.call_ref, started_at=session.started_at, line=line,
                                               caller_masked=mask_phone(caller))
        except JournalError as exc:  # the call goes on; its record is kept in memory when it ends
            self._failed(exc)

    def finished(self, record: CallRecord, error: JournalError | None) -> None:
        self.in_progress.pop(record.call_ref, None)
        if error is not None:
            self._keep(record, error)

    # -- the daemon ------------------------------------------------------------------------------------------------
    def flush(self) -> bool:
        """Write the kept records; True when none is left."""
        journal = self._appliance.journal
        while self.backlog:
            try:
                journal.record_call(self.backlog[0])
            except JournalError as exc:
                self._failed(exc)
                return False
            log.info("call %s journalled after the journal recovered", self.backlog.popleft().call_ref)
        return True

    def cut(self, now: float) -> None:
        """The daemon stops with calls still up (the drain bound passed): journal them as `error`."""
        for call_ref, (line, session) in list(self.in_progress.items()):
            record = CallRecord(call_ref=call_ref, started_at=session.started_at, line=line,
                                caller_masked=mask_phone(session.flow.caller), outcome="error",
                                duration_s=round(now - session.started_at, 2))
            self.finished(record, None)
            try:
                self._appliance.journal.record_call(record)
            except JournalError as exc:
                self._keep(record, exc)

    def calls(self) -> list[dict[str, Any]]:
        now = time.time()
        return [{"line": line, "call_ref": ref[:8], "state": session.flow.state.name.lower(),
                 "seconds": round(now - session.started_at, 1)} for ref, (line, session) in self.in_progress.items()]

    def _keep(self, record: CallRecord, exc: JournalError) -> None:
        self._failed(exc)
        if len(self.backlog) >= MAX_BACKLOG:
            lost = self.backlog.popleft()
            log.error("call %s dropped from the journal backlog (%d kept)", lost.call_ref, MAX_BACKLOG)
        self.backlog.append(record)
        log.warning("call %s kept in memory until the journal can take it (%d waiting)", record.call_ref,
                    len(self.backlog))

    def _failed(self, exc: JournalError) -> None:
        self.last_error = str(exc)
        log.error("%s", exc)


class ServingSwitchboard(Switchboard):
    """A line's switchboard in the daemon: refuses new calls while stopping and keeps the book."""

    def __init__(self, appliance: Appliance, line: Line, scheduler: Scheduler, checker: Checker,
                 book: CallBook) -> None:
        super().__init__(appliance, line, scheduler, checker)
        self._book = book
        self._cut: set[str] = set()

    def __call__(self, event: LineEvent) -> None:
        if isinstance(event, IncomingCall) and event.call_id not in self.sessions:
            if not self._book.accepting:
                self._book.refused += 1
                log.info("line %s: call refused: the box is stopping", self._line.name)
                self._line.hang_up(event.call_id)
                return
            super().__call__(event)
            session = self.sessions.get(event.call_id)
            if session is not None and session.outcome is None:
                self._book.opened(self._line.name, session, event.caller)
            return
        super().__call__(event)

    def line_closed(self) -> None:
        """The line was closed under its calls (a restart, or the stop after the drain): each call ends (its timers
        cancelled by the flow) and is journalled as `error`, the box having cut it."""
        for call_id, session in list(self.sessions.items()):
            log.warning("line %s: call %s cut by the line's close", self._line.name, call_id)
            self._cut.add(session.call_ref)
            super().__call__(RemoteHangup(call_id))

    def _finished(self, record: CallRecord) -> None:
        if record.call_ref in self._cut:
            self._cut.discard(record.call_ref)
            record = dataclasses.replace(record, outcome="error")
        try:
            super()._finished(record)
        except JournalError as exc:
            self._book.finished(record, exc)
        else:
            self._book.finished(record, None)
