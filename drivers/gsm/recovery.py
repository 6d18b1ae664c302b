"""The escalating recovery ladder (field failures: modems hang or vanish from USB; only a replug or a power cut
helps): AT probe → AT+CFUN=1,1 → USB unbind/bind → power cycle. Each rung ends with the modem answering `AT` on
the same port path (a udev name, stable across re-enumeration) or with the next rung.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .bringup import ModemUnresponsive
from .engine import Command
from .modem import ModemSession
from .timings import GsmTimings
from .transport import PortLost, rebind_usb, usb_device_of

log = logging.getLogger(__name__)

RUNGS = ("probe", "reset", "usb", "power")
REOPEN_EVERY_S = 0.2


class RecoveryLadder:
    def __init__(
        self,
        name: str,
        url: str,
        reset_command: str,
        timings: GsmTimings,
        open_session: Callable[[], ModemSession],
        stopping: Callable[[float], bool],
        power_cycle: Callable[[], None] | None,
    ) -> None:
        self._name = name
        self._url = url
        self._reset_command = reset_command
        self._t = timings
        self._open = open_session
        self._stopping = stopping  # waits up to the given seconds; True when the line is closing
        self._power_cycle = power_cycle

    def climb(self, session: ModemSession | None, start: int) -> tuple[ModemSession | None, int]:
        """Try the rungs from `start`; the session answering `AT` and the rung that worked, or (None, -1)."""
        rungs = (self._probe_rung, self._reset_rung, self._usb_rung, self._power_rung)
        try:
            for index in range(start, len(rungs)):
                if self._stopping(0):
                    break
                log.warning("%s: recovery rung %d/%d: %s", self._name, index + 1, len(rungs), RUNGS[index])
                session = rungs[index](session)
                if session is not None:
                    log.warning("%s: the modem answers again after rung %s", self._name, RUNGS[index])
                    return session, index
        except BaseException:  # Stopping: the port we were given is closed on the way out
            _close(session)
            raise
        _close(session)
        return None, -1

    # -- rungs -----------------------------------------------------------------------------------------------------
    def _probe_rung(self, session: ModemSession | None) -> ModemSession | None:
        if session is not None and not session.closed and self._probe(session):
            return session
        _close(session)
        return self._await_modem(self._t.port_return_s)

    def _reset_rung(self, session: ModemSession | None) -> ModemSession | None:
        if session is None or session.closed:
            session = self._try_open()
        if session is None:
            log.warning("%s: cannot send %s: the port is gone", self._name, self._reset_command)
            return None
        try:
            session.run(Command(self._reset_command, self._t.command_s))
        except (ModemUnresponsive, PortLost) as exc:
            log.info("%s: %s unanswered (%s); waiting for the modem anyway", self._name, self._reset_command, exc)
        session.close()
        return self._await_modem(self._t.reboot_s)

    def _usb_rung(self, session: ModemSession | None) -> ModemSession | None:
        device = usb_device_of(self._url)
        if device is None:
            log.warning("%s: USB rebind skipped: %s is not a USB tty", self._name, self._url)
            return None
        _close(session)
        try:
            rebind_usb(device)
        except OSError as exc:
            log.error("%s: USB rebind of %s failed: %s", self._name, device.name, exc)
            return None
        return self._await_modem(self._t.reboot_s)

    def _power_rung(self, session: ModemSession | None) -> ModemSession | None:
        if self._power_cycle is None:
            log.warning("%s: power cycle skipped: no power control configured (power_gpio)", self._name)
            return None
        _close(session)
        try:
            self._power_cycle()
        except Exception:  # the power back end (GPIO) is not ours to trust; log it and give up this rung
            log.exception("%s: power cycle failed", self._name)
            return None
        return self._await_modem(self._t.reboot_s)

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _await_modem(self, timeout_s: float) -> ModemSession | None:
        """Re-open the port path until it is there and the modem answers `AT`, or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        session: ModemSession | None = None
        try:
            while time.monotonic() < deadline:
                if session is None:
                    session = self._try_open()
                if session is not None:
                    if self._probe(session):
                        return session
                    if session.closed:
                        session = None
                if self._stopping(REOPEN_EVERY_S):
                    break
        except BaseException:  # Stopping from inside a probe: no port left open behind us
            _close(session)
            raise
        _close(session)
        return None

    def _try_open(self) -> ModemSession | None:
        try:
            return self._open()
        except PortLost:
            return None

    def _probe(self, session: ModemSession) -> bool:
        try:
            reply = session.run(Command("AT", self._t.probe_s, retries=1))
        except ModemUnresponsive:
            return False
        except PortLost:
            session.close()
            return False
        return reply.ok


def _close(session: ModemSession | None) -> None:
    if session is not None:
        session.close()
