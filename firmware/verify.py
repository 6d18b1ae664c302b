"""Checks a calling number and an insurance code together, and issues the new password.

Order is the point of this module: lockout first (no check at all for a locked number or code), then one slow
hash and one indexed query whatever the case (unknown code, unknown number and mismatch take the same path and
the same time), and on a match the sealed reset is committed to the outbox **before** the password is returned,
so nothing is ever spoken that central will not receive.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from nacl.public import PublicKey

from . import FirmwareError
from . import password as pw
from .callflow import CheckDone, Verdict
from .journal import Journal
from .phone import PhoneNumberError, normalise_phone
from .sealing import bucket, seal
from .snapshot import Snapshot

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class LockoutPolicy:
    """After `max_mismatches` failed checks within `window_s` from one number, or against one code, refuse."""

    max_mismatches: int = 3
    window_s: float = 24 * 3600.0


class Verifier:
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        journal: Journal,
        central_key: PublicKey,
        lockout_secret: bytes,
        policy: LockoutPolicy = LockoutPolicy(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshot = snapshot
        self._journal = journal
        self._central_key = central_key
        self._secret = lockout_secret
        self._policy = policy
        self._clock = clock

    def check(self, caller: str, code: str, call_ref: str) -> CheckDone:
        """The verdict for this caller and code; FirmwareErrors become `Verdict.ERROR` (the caller hears an apology)."""
        try:
            return self._check(caller, code, call_ref)
        except FirmwareError as exc:
            log.error("check for call %s failed: %s", call_ref, exc)
            return CheckDone(Verdict.ERROR)

    def _check(self, caller: str, code: str, call_ref: str) -> CheckDone:
        now = self._clock()
        try:
            phone = normalise_phone(caller)
        except PhoneNumberError:
            phone = "invalid:" + "".join(ch for ch in caller if ch.isdigit())  # still hashed: same time, never matches
        buckets = [bucket(self._secret, "phone", phone), bucket(self._secret, "code", code)]
        if self._locked(buckets, now):
            log.info("call %s: locked out", call_ref)
            return CheckDone(Verdict.LOCKED)
        match = self._snapshot().lookup(code, phone)
        if match is None:
            self._journal.record_attempt(buckets, now)  # fails closed: a journal error is an ERROR verdict
            return CheckDone(Verdict.MISMATCH)
        password = pw.generate()
        payload = {
            "v": PAYLOAD_VERSION,
            "kind": "reset",
            "call_ref": call_ref,
            "created_at": now,
            "account_ref": match.account_ref,
            "bhxh_code": code,
            "phone": phone,
            "password": password,
        }
        self._journal.add_reset(call_ref=call_ref, sealed=seal(self._central_key, payload), created_at=now)
        return CheckDone(Verdict.RESET, password)

    def void(self, call_ref: str) -> None:
        """Tell central not to apply this call's reset: its password was issued but never read to the caller (a
        sealed `reset_void` event after the reset in the outbox; central voids the reset with the same call_ref)."""
        now = self._clock()
        payload = {"v": PAYLOAD_VERSION, "kind": "reset_void", "call_ref": call_ref, "created_at": now}
        try:
            self._journal.add_reset(call_ref=call_ref, sealed=seal(self._central_key, payload), created_at=now)
        except FirmwareError as exc:
            log.error("call %s: could not queue the void of an unheard reset: %s", call_ref, exc)

    def _locked(self, buckets: list[str], now: float) -> bool:
        since = now - self._policy.window_s
        self._journal.purge_attempts(before=since)
        return any(self._journal.count_attempts(key, since) >= self._policy.max_mismatches for key in buckets)
