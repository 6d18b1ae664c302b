"""Carries out one call's actions on a line: the only place where the pure call flow meets I/O.

Events are queued and handled one at a time, so an action that answers at once (an inline check in the demo)
never re-enters the flow in the middle of another event's actions.
"""
from __future__ import annotations

import concurrent.futures
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Protocol

from drivers.clock import Scheduler, TimerHandle
from drivers.line import Line

from .callflow import (
    Action,
    Answer,
    CallFlow,
    CancelTimer,
    CheckCaller,
    CheckDone,
    Finish,
    FlowEvent,
    FlowSettings,
    HangUp,
    Outcome,
    Play,
    StartTimer,
    StopPlayback,
    TimerFired,
    VoidReset,
    Verdict,
)
from .journal import CallRecord
from .phone import mask_phone

log = logging.getLogger(__name__)

CheckFunction = Callable[[str, str, str], CheckDone]  # (caller, code, call_ref) -> verdict


class Checker(Protocol):
    """Runs a check (slow hash, SQLite, fsync) and reports the verdict through `done`."""

    def submit(self, caller: str, code: str, call_ref: str, done: Callable[[CheckDone], None]) -> None: ...


class InlineChecker:
    """Checks at once, in the caller's thread: for the demo's simulated time, where a check costs no time."""

    def __init__(self, check: CheckFunction) -> None:
        self._check = check

    def submit(self, caller: str, code: str, call_ref: str, done: Callable[[CheckDone], None]) -> None:
        done(_guarded(self._check, caller, code, call_ref))


class ThreadChecker:
    """Checks in a worker thread so the event loop keeps serving other calls; `deliver` brings the verdict back."""

    def __init__(self, check: CheckFunction, deliver: Callable[[Callable[[], None]], object], workers: int = 2) -> None:
        self._check = check
        self._deliver = deliver
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check")

    def submit(self, caller: str, code: str, call_ref: str, done: Callable[[CheckDone], None]) -> None:
        future = self._pool.submit(_guarded, self._check, caller, code, call_ref)
        future.add_done_callback(lambda f: self._deliver(lambda: done(f.result())))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _guarded(check: CheckFunction, caller: str, code: str, call_ref: str) -> CheckDone:
    try:
        return check(caller, code, call_ref)
    except Exception:  # a thread's top: never let a check take the daemon down, the caller hears an apology
        log.exception("check failed for call %s", call_ref)
        return CheckDone(Verdict.ERROR)


class CallSession:
    """One call on one line: feeds events to a `CallFlow` and performs what it asks."""

    def __init__(
        self,
        call_id: str,
        line: Line,
        scheduler: Scheduler,
        checker: Checker,
        record: Callable[[CallRecord], None],
        settings: FlowSettings = FlowSettings(),
        void: Callable[[str], None] | None = None,
    ) -> None:
        self.call_id = call_id
        self.call_ref = uuid.uuid4().hex
        self.flow = CallFlow(settings)
        self.started_at = time.time()
        self.started = scheduler.now()
        self.duration_s: float | None = None
        self._line = line
        self._scheduler = scheduler
        self._checker = checker
        self._record = record
        self._void = void  # tells central a reset of this call was never heard (Verifier.void)
        self._timers: dict[str, TimerHandle] = {}
        self._pending: deque[FlowEvent] = deque()
        self._busy = False

    @property
    def outcome(self) -> Outcome | None:
        return self.flow.outcome if self.duration_s is not None else None

    def handle(self, event: FlowEvent) -> None:
        self._pending.append(event)
        if self._busy:
            return
        self._busy = True
        try:
            while self._pending:
                for action in self.flow.handle(self._pending.popleft()):
                    self._perform(action)
        finally:
            self._busy = False

    def _perform(self, action: Action) -> None:
        line, call_id = self._line, self.call_id
        match action:
            case Answer():
                line.answer(call_id)
            case Play(prompts, token):
                line.play(call_id, prompts, token)
            case StopPlayback():
                line.stop_playback(call_id)
            case HangUp():
                line.hang_up(call_id)
            case StartTimer(name, seconds):
                self._cancel(name)
                self._timers[name] = self._scheduler.call_later(seconds, lambda: self._fire(name))
            case CancelTimer(name):
                self._cancel(name)
            case CheckCaller(caller, code):
                self._checker.submit(caller, code, self.call_ref, self.handle)
            case Finish(outcome):
                self._finish(outcome)
            case VoidReset():
                log.warning("call %s: a reset was issued after the call stopped waiting for it; voiding it",
                            self.call_ref)
                if self._void is not None:
                    self._void(self.call_ref)

    def _fire(self, name: str) -> None:
        if self._timers.pop(name, None) is not None:
            self.handle(TimerFired(name))

    def _cancel(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _finish(self, outcome: Outcome) -> None:
        self.duration_s = round(self._scheduler.now() - self.started, 2)
        record = CallRecord(
            call_ref=self.call_ref,
            started_at=self.started_at,
            line=self._line.name,
            caller_masked=mask_phone(self.flow.caller),
            outcome=outcome.value,
            duration_s=self.duration_s,
        )
        try:
            self._record(record)
        except Exception:  # the call is over either way; losing its log row must not take the line down
            log.exception("could not journal call %s", self.call_ref)
        log.info("call %s on %s: %s after %.1f s", self.call_ref, record.line, record.outcome, record.duration_s)
