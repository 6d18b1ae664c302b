"""Post-reset SMS notices: after a call whose verdict was a reset, the line that took it texts the caller's number
("the VssID password was reset by phone at this time; if it was not you, call BHXH"). Never the password.

The conflict it settles: a retry needs the number, and the box never keeps a number in plaintext. A notice is a
durable `notices` row whose number is encrypted (SecretBox) with a key made at start and kept only in this
process's memory. A worker thread sends it when the line is idle, retries with back-off up to a bound, and hands
every notice it cannot send (its key died with an earlier run, or it ran out of attempts) to central: a sealed
outbox event of kind `sms_notice_failed` with the call_ref, written in the same commit that deletes the row.
Central holds the number in the sealed reset of the same call_ref and can send the notice itself.
A notice never blocks or delays a call: queueing is a put on a queue, all I/O happens on the worker thread.
"""
from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

import nacl.exceptions
import nacl.secret
import nacl.utils
from nacl.public import PublicKey

from drivers import DriverError

from . import FirmwareError
from .call_session import Checker
from .callflow import CheckDone, Verdict
from .journal import Journal, NoticeRow
from .phone import mask_phone
from .sealing import seal

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 1
VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving in Vietnam
#: 70 characters with the time filled in: one UCS2 SMS. "ĐT" (điện thoại) is the usual SMS abbreviation.
NOTICE_TEXT = "Mật khẩu VssID đã cấp lại qua ĐT {time}. Không phải bạn? Gọi BHXH"
MAX_CHARS = 70

Send = Callable[[str, str], None]  # (number, text); raises when the SMS was not sent
Busy = Callable[[], bool]


def notice_text(reset_at: float) -> str:
    """The notice for a reset at `reset_at` (epoch seconds), in Vietnam's time: "… 14:05 26/11. …"."""
    shown = datetime.fromtimestamp(reset_at, VIETNAM).strftime("%H:%M %d/%m")
    text = NOTICE_TEXT.format(time=shown)
    assert len(text) <= MAX_CHARS, text  # the template is fixed; a longer one would need PDU mode
    return text


@dataclass(frozen=True)
class NoticeSettings:
    """Back-off: `retry_s` after the first failure, doubled each time up to `max_retry_s`; after `max_attempts`
    failed sends the notice goes to central. `poll_s` is how often the worker looks for due notices."""

    retry_s: float = 60.0
    max_retry_s: float = 1800.0
    max_attempts: int = 5
    poll_s: float = 1.0

    def backoff(self, attempts: int) -> float:
        return float(min(self.retry_s * 2 ** max(attempts - 1, 0), self.max_retry_s))


@runtime_checkable
class SmsLine(Protocol):
    """A line that can text the caller after a reset (the GSM driver with `sms_notice = true`)."""

    name: str
    sms_notice: bool
    in_call: bool

    def send_sms(self, number: str, text: str) -> None: ...


class NoticeOnReset:
    """A checker that passes checks through and queues the post-reset notice when a verdict is a reset."""

    def __init__(self, checker: Checker, notices: NoticeWorker, line: str) -> None:
        self._checker = checker
        self._notices = notices
        self._line = line

    def submit(self, caller: str, code: str, call_ref: str, done: Callable[[CheckDone], None]) -> None:
        def verdict(result: CheckDone) -> None:
            if result.verdict is Verdict.RESET:
                self._notices.queue(call_ref, self._line, caller, time.time())
            done(result)

        self._checker.submit(caller, code, call_ref, verdict)


@dataclass
class _Sender:
    send: Send
    busy: Busy


class NoticeWorker:
    """Sends the notices of one running box; `queue` is called on the loop thread, everything else is its own."""

    def __init__(
        self,
        journal: Journal,
        central_key: PublicKey,
        settings: NoticeSettings = NoticeSettings(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._journal = journal
        self._central_key = central_key
        self._settings = settings
        self._clock = clock
        self._box = nacl.secret.SecretBox(nacl.utils.random(nacl.secret.SecretBox.KEY_SIZE))  # RAM only
        self.boot = secrets.token_hex(8)
        self._senders: dict[str, _Sender] = {}
        self._intake: queue.SimpleQueue[tuple[str, str, str, float]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- wiring (composition root) --------------------------------------------------------------------------------
    def wrap(self, line: object, checker: Checker, busy: Busy) -> Checker:
        """The Switchboard's checker for `line`: unchanged unless the line sends notices; then its resets queue a
        notice, and the line sends it whenever neither `busy()` (the Switchboard has a call) nor the line's own
        `in_call` holds."""
        if not (isinstance(line, SmsLine) and line.sms_notice):
            return checker
        self.register(line.name, line.send_sms, lambda: busy() or line.in_call)
        return NoticeOnReset(checker, self, line.name)

    def register(self, line: str, send: Send, busy: Busy, *, start: bool = True) -> None:
        """Line `line` sends notices with `send` whenever `busy()` is false; starts the worker unless `start` is
        False (tests then drive `pass_once` themselves)."""
        self._senders[line] = _Sender(send, busy)
        if start:
            self.start()

    def start(self) -> None:
        """Start the worker (idempotent). Its first pass hands notices left by an earlier run to central."""
        with self._lock:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._main, name="notices", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker (bounded join). Rows not yet sent stay; the next run hands them to central."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("notice worker did not stop within %.1f s", timeout)

    # -- the trigger (loop thread; never blocks) ------------------------------------------------------------------
    def queue(self, call_ref: str, line: str, number: str, reset_at: float) -> None:
        """A reset was issued on `line` to the caller `number`: send the notice once the line is idle."""
        self._intake.put((call_ref, line, number, reset_at))
        self._wake.set()

    def pass_once(self) -> None:
        """One round: store queued notices, then send, retry or hand over those that are due (worker thread;
        tests call it directly)."""
        self._store_queued()
        now = self._clock()
        for row in self._journal.notices():
            if self._stop.is_set():
                return
            if row.boot != self.boot:  # whenever it was due: its key died with an earlier run
                self._hand_over(row, "key_lost", now)
            elif row.next_at <= now:
                self._handle(row, now)

    # -- inside ---------------------------------------------------------------------------------------------------
    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                self.pass_once()
            except Exception:  # the thread's top: a journal error must not end notices for good
                log.exception("notice worker pass failed; trying again")
            self._wake.wait(self._settings.poll_s)
            self._wake.clear()

    def _store_queued(self) -> None:
        while True:
            try:
                call_ref, line, number, reset_at = self._intake.get_nowait()
            except queue.Empty:
                return
            sealed = bytes(self._box.encrypt(number.encode("utf-8")))
            self._journal.add_notice(call_ref=call_ref, line=line, created_at=reset_at, boot=self.boot,
                                     number=sealed, next_at=reset_at)
            log.info("call %s: SMS notice to %s queued on %s", call_ref, mask_phone(number), line)

    def _handle(self, row: NoticeRow, now: float) -> None:
        sender = self._senders.get(row.line)
        if sender is None:
            self._hand_over(row, "no_line", now)
            return
        if sender.busy():
            return  # a call is up: never delay a caller; due again on the next pass
        try:
            number = self._box.decrypt(row.number).decode("utf-8")
        except (nacl.exceptions.CryptoError, UnicodeDecodeError):
            self._hand_over(row, "key_lost", now)
            return
        try:
            sender.send(number, notice_text(row.created_at))
        except (DriverError, OSError) as exc:  # the line could not send it: retry later
            self._failed(row, exc, now)
            return
        self._journal.delete_notice(row.id)
        log.info("call %s: SMS notice sent to %s on %s", row.call_ref, mask_phone(number), row.line)

    def _failed(self, row: NoticeRow, exc: Exception, now: float) -> None:
        attempts = row.attempts + 1
        if attempts >= self._settings.max_attempts:
            log.warning("call %s: SMS notice failed %d times (%s)", row.call_ref, attempts, exc)
            self._hand_over(row, "attempts_exhausted", now, attempts)
            return
        wait = self._settings.backoff(attempts)
        log.warning("call %s: SMS notice failed (%s); attempt %d of %d in %.0f s", row.call_ref, exc, attempts + 1,
                    self._settings.max_attempts, wait)
        self._journal.retry_notice(row.id, attempts=attempts, next_at=now + wait)

    def _hand_over(self, row: NoticeRow, reason: str, now: float, attempts: int | None = None) -> None:
        payload = {
            "v": PAYLOAD_VERSION,
            "kind": "sms_notice_failed",
            "call_ref": row.call_ref,
            "line": row.line,
            "reset_at": row.created_at,
            "created_at": now,
            "attempts": row.attempts if attempts is None else attempts,
            "reason": reason,
        }
        try:
            self._journal.hand_notice_over(row.id, call_ref=row.call_ref, sealed=seal(self._central_key, payload),
                                           created_at=now)
        except FirmwareError:
            log.exception("call %s: could not hand the SMS notice to central; kept for the next pass", row.call_ref)
            return
        log.info("call %s: SMS notice handed to central (%s)", row.call_ref, reason)
