"""The shared recovery ladder with a fake modem: rung order, what each rung needs, skipped rungs leaving no port
open, the probe once more after skipped higher rungs, and a power hook that fails."""
from __future__ import annotations

from pathlib import Path

from drivers.serialmodem.recovery import LadderSteps, RecoveryLadder


class Lost(Exception):
    pass


class Session:
    opened = 0

    def __init__(self, modem: Modem) -> None:
        self.modem = modem
        self.closed = False
        Session.opened += 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.modem.open_sessions -= 1


class Modem:
    """Answers once `fixed_by` happened: "probe" (at once), "reset", "usb" or "power"."""

    def __init__(self, fixed_by: str, present: bool = True) -> None:
        self.fixed_by = fixed_by
        self.present = present
        self.done: list[str] = []
        self.open_sessions = 0

    def open(self) -> Session:
        if not self.present:
            raise Lost("no such port")
        self.open_sessions += 1
        return Session(self)

    def probe(self, session: Session) -> bool:
        return self.fixed_by == "probe" or self.fixed_by in self.done

    def reset(self, session: Session) -> None:
        self.done.append("reset")

    def power(self) -> None:
        self.done.append("power")


def ladder(modem: Modem, tmp_path: Path, *, url: str = "/dev/pts/9", power: bool = True) -> RecoveryLadder[Session]:
    steps = LadderSteps(open=modem.open, probe=modem.probe, reset=modem.reset, lost=Lost, failures=(Lost,))
    return RecoveryLadder("t", url, steps, reset_name="ATZ", port_return_s=0.05, reboot_s=0.05,
                          stopping=lambda s: False, power_cycle=modem.power if power else None,
                          sys_tty=tmp_path / "tty", usb_driver=tmp_path / "usb")


def test_each_rung_in_turn_until_the_modem_answers(tmp_path: Path) -> None:
    for fixed_by, rung in (("probe", 0), ("reset", 1), ("power", 3)):
        modem = Modem(fixed_by)
        session, used = ladder(modem, tmp_path).climb(None, 0)
        assert session is not None and not session.closed and used == rung, fixed_by
        assert modem.open_sessions == 1  # exactly the one handed back


def test_nothing_helps_every_port_closed(tmp_path: Path) -> None:
    modem = Modem("never")
    assert ladder(modem, tmp_path, power=False).climb(modem.open(), 0) == (None, -1)
    assert modem.open_sessions == 0


def test_from_a_higher_rung_skipped_rungs_close_the_port_and_the_probe_is_tried_again(tmp_path: Path) -> None:
    modem = Modem("probe")
    session, used = ladder(modem, tmp_path, power=False).climb(modem.open(), 2)  # usb: not a USB tty; no power
    assert session is not None and used == 0 and modem.open_sessions == 1


def test_a_vanished_port_is_waited_for_at_the_reset_rung(tmp_path: Path) -> None:
    modem = Modem("probe", present=False)
    assert ladder(modem, tmp_path, power=False).climb(None, 1) == (None, -1)  # never came back
    assert modem.done == []  # nothing to send the reset to


def test_a_failing_power_hook_is_logged_not_raised(tmp_path: Path) -> None:
    modem = Modem("never")

    def broken() -> None:
        raise RuntimeError("GPIO busy")

    steps = LadderSteps(open=modem.open, probe=modem.probe, reset=modem.reset, lost=Lost, failures=(Lost,))
    rig = RecoveryLadder("t", "x", steps, reset_name="ATZ", port_return_s=0.05, reboot_s=0.05,
                         stopping=lambda s: False, power_cycle=broken)
    assert rig.climb(None, 3) == (None, -1) and modem.open_sessions == 0
