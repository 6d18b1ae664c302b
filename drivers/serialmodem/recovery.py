"""The escalating recovery ladder both modem drivers climb when their modem stops answering or its port vanishes
(field failures: modems hang or vanish from USB; only a replug or a power cut helps; a re-enumeration renames
ttyUSB nodes): probe (re-open the configured path, a udev name, with retries) → the modem's own reset command →
USB unbind/bind through sysfs → the power-cycle hook. Each rung ends with the modem answering a probe on the same
path, or with the next rung. The driver then brings the modem up again in full (every volatile setting re-sent).

The ladder is generic over the driver's session: the driver passes how to open one (raising its PortLost), how
to probe it and how to send its reset command.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from .usb import SYS_TTY, SYS_USB_DRIVER, rebind_usb, usb_device_of

log = logging.getLogger(__name__)

RUNGS = ("probe", "reset", "usb", "power")
REOPEN_EVERY_S = 0.2


class Session(Protocol):
    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=Session)


@dataclass(frozen=True)
class LadderSteps(Generic[S]):
    """What the ladder needs of a driver. `open` raises `lost` when the path is not there; `probe` is True when
    the modem answers (and closes the session when its port is gone); `reset` sends the reset command and may
    raise `failures`."""

    open: Callable[[], S]
    probe: Callable[[S], bool]
    reset: Callable[[S], None]
    lost: type[Exception]
    failures: tuple[type[Exception], ...]


class RecoveryLadder(Generic[S]):
    def __init__(
        self,
        name: str,
        url: str,
        steps: LadderSteps[S],
        *,
        reset_name: str,
        port_return_s: float,
        reboot_s: float,
        stopping: Callable[[float], bool],
        power_cycle: Callable[[], None] | None,
        sys_tty: Path = SYS_TTY,
        usb_driver: Path = SYS_USB_DRIVER,
    ) -> None:
        self._name = name
        self._url = url
        self._steps = steps
        self._reset_name = reset_name
        self._port_return_s = port_return_s
        self._reboot_s = reboot_s
        self._stopping = stopping  # waits up to the given seconds; True when the line is closing
        self._power_cycle = power_cycle
        self._sys_tty = sys_tty
        self._usb_driver = usb_driver

    def climb(self, session: S | None, start: int) -> tuple[S | None, int]:
        """Try the rungs from `start`; the session answering and the rung that worked, or (None, -1)."""
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
            if start > 0 and not self._stopping(0):  # the higher rungs were skipped or failed: probe once more
                log.warning("%s: recovery from rung %s did not help; probing again", self._name, RUNGS[start])
                session = self._probe_rung(session)
                if session is not None:
                    return session, 0
        except BaseException:  # Stopping: the port we were given is closed on the way out
            _close(session)
            raise
        _close(session)
        return None, -1

    # -- rungs -----------------------------------------------------------------------------------------------------
    def _probe_rung(self, session: S | None) -> S | None:
        if session is not None and not session.closed and self._steps.probe(session):
            return session
        _close(session)
        return self._await_modem(self._port_return_s)

    def _reset_rung(self, session: S | None) -> S | None:
        if session is None or session.closed:
            session = self._try_open()
        if session is None:  # gone (re-enumerating?): give it the time a reset would take to come back
            log.warning("%s: cannot send %s: the port is gone; waiting for it", self._name, self._reset_name)
            return self._await_modem(self._reboot_s)
        try:
            self._steps.reset(session)
        except self._steps.failures as exc:
            log.info("%s: %s unanswered (%s); waiting for the modem anyway", self._name, self._reset_name, exc)
        session.close()
        return self._await_modem(self._reboot_s)

    def _usb_rung(self, session: S | None) -> S | None:
        _close(session)  # every rung that returns None has closed what it was given
        device = usb_device_of(self._url, self._sys_tty)
        if device is None:
            log.warning("%s: USB rebind skipped: %s is not a USB tty", self._name, self._url)
            return None
        try:
            rebind_usb(device, self._usb_driver)
        except OSError as exc:
            log.error("%s: USB rebind of %s failed: %s", self._name, device.name, exc)
            return None
        return self._await_modem(self._reboot_s)

    def _power_rung(self, session: S | None) -> S | None:
        _close(session)
        if self._power_cycle is None:
            log.warning("%s: power cycle skipped: no power control configured", self._name)
            return None
        try:
            self._power_cycle()
        except Exception:  # the power back end (GPIO) is not ours to trust; log it and give up this rung
            log.exception("%s: power cycle failed", self._name)
            return None
        return self._await_modem(self._reboot_s)

    # -- helpers ---------------------------------------------------------------------------------------------------
    def _await_modem(self, timeout_s: float) -> S | None:
        """Re-open the port path until it is there and the modem answers, or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        session: S | None = None
        try:
            while time.monotonic() < deadline:
                if session is None:
                    session = self._try_open()
                if session is not None:
                    if self._steps.probe(session):
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

    def _try_open(self) -> S | None:
        try:
            return self._steps.open()
        except self._steps.lost:
            return None


def _close(session: Session | None) -> None:
    if session is not None:
        session.close()
