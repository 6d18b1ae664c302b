"""The file player: one modem playback at a time, lists chained on the end URC, no report after a stop."""
from __future__ import annotations

import dataclasses

from drivers.gsm.engine import Command, Reply
from drivers.gsm.players import IDLE, PLAYING, STOPPING, FilePlayer
from drivers.gsm.profiles import EC25, SIM7600, Profile


class Modem:
    """Answers each submitted command later, as the test says."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Command, object]] = []
        self.sent: list[str] = []

    def submit(self, command: Command, done) -> None:  # type: ignore[no-untyped-def]
        self.sent.append(command.text)
        self.waiting.append((command, done))

    def answer(self, status: str = "ok") -> str:
        command, done = self.waiting.pop(0)
        done(Reply(command, status))  # type: ignore[operator]
        return command.text


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def rig(profile: Profile = EC25, stored: set[str] | None = None):  # type: ignore[no-untyped-def]
    modem, clock, finished = Modem(), Clock(), []
    player = FilePlayer(profile, modem.submit, lambda call_id, token: finished.append((call_id, token)), clock,
                        settle_s=0.5, command_s=1.0,
                        stored=(lambda pid: pid in stored) if stored is not None else (lambda pid: True))
    return player, modem, clock, finished


def test_a_password_reading_is_chained_file_by_file_on_the_end_urc() -> None:
    player, modem, _, finished = rig()
    player.play("c1", ["new_password", "d0", "pause_char", "l_m"], 7)
    assert modem.sent == ['AT+QPSND=1,"new_password.wav",0,1,1']
    for name in ["d0", "pause_char", "l_m"]:
        modem.answer()
        assert player.state == PLAYING and len(modem.sent) == len(set(modem.sent))
        player.ended()
        assert modem.sent[-1] == f'AT+QPSND=1,"{name}.wav",0,1,1'
    modem.answer()
    player.ended()
    assert finished == [("c1", 7)] and player.state == IDLE


def test_stop_sends_the_stop_command_and_never_reports_the_stopped_list() -> None:
    player, modem, clock, finished = rig()
    player.play("c1", ["welcome", "menu"], 1)
    modem.answer()
    player.stop()
    assert modem.sent[-1] == "AT+QPSND=0" and player.state == STOPPING
    modem.answer()
    clock.t += 0.6
    player.poll()
    assert player.state == IDLE and finished == []


def test_a_new_list_waits_for_the_stopped_playback_to_settle() -> None:
    player, modem, clock, finished = rig()
    player.play("c1", ["welcome"], 1)
    modem.answer()
    player.stop()
    player.play("c1", ["ask_code"], 2)
    modem.answer()  # the stop's OK
    assert modem.sent[-1] == "AT+QPSND=0"
    player.ended()  # the stopped playback's own end URC, if this firmware sends one: not the new list's
    assert modem.sent[-1] == 'AT+QPSND=1,"ask_code.wav",0,1,1'
    modem.answer()
    player.ended()
    assert finished == [("c1", 2)]


def test_a_profile_known_to_report_the_stop_waits_for_that_report() -> None:
    player, modem, clock, finished = rig(SIM7600)
    player.play("c1", ["welcome"], 1)
    modem.answer()
    player.play("c1", ["ask_code"], 2)  # a new list while one plays: stop first
    assert modem.sent[-1] == "AT+CCMXSTOP"
    modem.answer()
    assert modem.sent[-1] == "AT+CCMXSTOP"
    player.ended()
    assert modem.sent[-1] == 'AT+CCMXPLAY="c:/ask_code.wav",1,0'


def test_a_profile_known_not_to_report_the_stop_goes_on_at_once() -> None:
    quiet = dataclasses.replace(EC25, end_after_stop=False)
    player, modem, _, _ = rig(quiet)
    player.play("c1", ["welcome"], 1)
    modem.answer()
    player.play("c1", ["ask_code"], 2)
    modem.answer()
    assert modem.sent[-1] == 'AT+QPSND=1,"ask_code.wav",0,1,1'


def test_refused_or_missing_files_are_skipped_so_the_call_goes_on() -> None:
    player, modem, _, finished = rig(stored={"welcome", "goodbye"})
    player.play("c1", ["welcome", "error", "goodbye"], 3)
    modem.answer("error")  # the modem refuses welcome
    assert modem.sent[-1] == 'AT+QPSND=1,"goodbye.wav",0,1,1'  # error.wav is not in the store: skipped
    modem.answer()
    player.ended()
    assert finished == [("c1", 3)]


def test_a_very_short_file_ending_before_its_ok_is_read() -> None:
    player, modem, _, finished = rig()
    player.play("c1", ["pause_char", "d1"], 4)
    player.ended()
    modem.answer()
    assert modem.sent[-1] == 'AT+QPSND=1,"d1.wav",0,1,1'


def test_reset_forgets_everything_and_late_replies_change_nothing() -> None:
    player, modem, _, finished = rig()
    player.play("c1", ["welcome"], 1)
    player.reset()
    modem.answer()
    player.ended()
    assert player.state == IDLE and finished == []
