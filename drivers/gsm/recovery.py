"""The GSM driver's rungs of the shared recovery ladder (`drivers/serialmodem/recovery.py`): AT probe →
AT+CFUN=1,1 (the profile's reset) → USB unbind/bind → power cycle. Each rung ends with the modem answering `AT` on
the same port path (a udev name, stable across re-enumeration) or with the next rung.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drivers.serialmodem.recovery import RUNGS, LadderSteps, RecoveryLadder
from drivers.serialmodem.usb import SYS_TTY, SYS_USB_DRIVER

from .bringup import ModemUnresponsive
from .engine import Command
from .modem import ModemSession
from .timings import GsmTimings
from .transport import PortLost

__all__ = ["RUNGS", "gsm_ladder"]


def gsm_ladder(
    name: str,
    url: str,
    reset_command: str,
    timings: GsmTimings,
    open_session: Callable[[], ModemSession],
    stopping: Callable[[float], bool],
    power_cycle: Callable[[], None] | None,
    *,
    sys_tty: Path = SYS_TTY,
    usb_driver: Path = SYS_USB_DRIVER,
) -> RecoveryLadder[ModemSession]:
    def probe(session: ModemSession) -> bool:
        try:
            reply = session.run(Command("AT", timings.probe_s, retries=1))
        except ModemUnresponsive:
            return False
        except PortLost:
            session.close()
            return False
        return reply.ok

    def reset(session: ModemSession) -> None:
        session.run(Command(reset_command, timings.command_s))

    steps = LadderSteps(open=open_session, probe=probe, reset=reset, lost=PortLost,
                        failures=(ModemUnresponsive, PortLost))
    return RecoveryLadder(name, url, steps, reset_name=reset_command, port_return_s=timings.port_return_s,
                          reboot_s=timings.reboot_s, stopping=stopping, power_cycle=power_cycle,
                          sys_tty=sys_tty, usb_driver=usb_driver)
