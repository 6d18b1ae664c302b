"""The V.253 driver's rungs of the shared recovery ladder (`drivers/serialmodem/recovery.py`): re-open the
configured path (a udev name survives re-enumeration) and probe → `ATZ` → USB unbind/bind → the power-cycle hook.
A probe first ends any data state (the stick may still stream `+VRX` audio, where `AT` would be taken as audio).
After the ladder the line's bring-up runs in full: `ATZ`, voice settings and caller ID again.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drivers.serialmodem.recovery import RUNGS, LadderSteps, RecoveryLadder
from drivers.serialmodem.usb import SYS_TTY, SYS_USB_DRIVER

from .engine import Command
from .modem import ModemSession, ModemUnresponsive
from .timings import V253Timings
from .transport import PortLost

__all__ = ["RUNGS", "v253_ladder"]
DRAIN_S = 0.1


def v253_ladder(
    name: str,
    url: str,
    escapes: bytes,
    timings: V253Timings,
    open_session: Callable[[], ModemSession],
    stopping: Callable[[float], bool],
    power_cycle: Callable[[], None] | None,
    *,
    sys_tty: Path = SYS_TTY,
    usb_driver: Path = SYS_USB_DRIVER,
) -> RecoveryLadder[ModemSession]:
    def probe(session: ModemSession) -> bool:
        try:
            session.write(escapes + b"\r")
            session.pause(DRAIN_S)
            reply = session.run(Command("AT", timings.probe_s, retries=1))
        except ModemUnresponsive:
            return False
        except PortLost:
            session.close()
            return False
        return reply.ok

    def reset(session: ModemSession) -> None:
        session.write(escapes + b"\r")
        session.run(Command("ATZ", timings.command_s))

    steps = LadderSteps(open=open_session, probe=probe, reset=reset, lost=PortLost,
                        failures=(ModemUnresponsive, PortLost))
    return RecoveryLadder(name, url, steps, reset_name="ATZ", port_return_s=timings.port_return_s,
                          reboot_s=timings.reboot_s, stopping=stopping, power_cycle=power_cycle,
                          sys_tty=sys_tty, usb_driver=usb_driver)
