"""Bring-up steps against a scripted modem, reply parsers, SMS encoding, masking, profile consistency."""
from __future__ import annotations

import pytest

from drivers.gsm.bringup import (BringUpError, apply_settings, ims_of, parse_ati, registration_of, signal_of,
                                 unlock_sim)
from drivers.gsm.codec import Final, UrcTable
from drivers.gsm.engine import Command, Reply
from drivers.serialmodem.privacy import mask_number, redact
from drivers.gsm.profiles import PROFILES, Profile
from drivers.gsm.sms import MAX_CHARS, SmsError, sms_commands, ucs2
from drivers.gsm.status import LineStatus


class Script:
    """A modem that answers each command from a table: text → (status, lines, final code)."""

    def __init__(self, answers: dict[str, list[tuple[str, tuple[str, ...], int | None]]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def __call__(self, command: Command) -> Reply:
        self.sent.append(command.text)
        queue = self.answers.get(command.text) or [("ok", (), None)]
        status, lines, code = queue.pop(0) if len(queue) > 1 else queue[0]
        final = Final("cme" if code is not None else status, "x", code)
        return Reply(command, status, lines, final)


def status(profile: str = "ec25") -> LineStatus:
    return LineStatus(line="gsm0", profile=profile, port="/dev/x", audio="modem-files", audio_port=None,
                      needs_volte=True, sms_notice=False, unverified=())


def test_settings_start_with_echo_off_and_numeric_errors() -> None:
    run = Script({})
    apply_settings(run, PROFILES["ec25"])
    assert run.sent[:2] == ["ATE0", "AT+CMEE=1"]
    assert {"AT+CLIP=1", "AT+QTONEDET=1", 'AT+QINDCFG="ccinfo",1,0'} <= set(run.sent)


def test_a_refused_setting_is_a_clear_fault_an_optional_one_is_not() -> None:
    with pytest.raises(BringUpError, match="AT\\+DDET=1"):
        apply_settings(Script({"AT+DDET=1": [("error", (), None)]}), PROFILES["sim7600"])
    apply_settings(Script({"AT+CVHU=0": [("error", (), None)]}), PROFILES["sim7600"])


def test_sim_pin_is_entered_once_and_never_shown() -> None:
    run = Script({"AT+CPIN?": [("ok", ("+CPIN: SIM PIN",), None), ("ok", ("+CPIN: READY",), None)]})
    unlock_sim(run, "1234", status(), lambda s: None)
    assert run.sent == ["AT+CPIN?", 'AT+CPIN="1234"', "AT+CPIN?"]


@pytest.mark.parametrize(("answer", "pin", "match"), [
    (("ok", ("+CPIN: SIM PIN",), None), None, "set `pin`"),
    (("ok", ("+CPIN: SIM PUK",), None), "1234", "SIM PUK"),
    (("error", (), 10), None, "no SIM inserted"),
])
def test_sim_problems_are_named(answer: tuple[str, tuple[str, ...], int | None], pin: str | None,
                                match: str) -> None:
    with pytest.raises(BringUpError, match=match):
        unlock_sim(Script({"AT+CPIN?": [answer]}), pin, status(), lambda s: None)


def test_sim_busy_after_boot_is_waited_for() -> None:
    pauses: list[float] = []
    run = Script({"AT+CPIN?": [("error", (), 14), ("ok", ("+CPIN: READY",), None)]})
    unlock_sim(run, None, status(), pauses.append)
    assert pauses == [1.0]


def test_ati_forms() -> None:
    assert parse_ati(("Quectel", "EC25", "Revision: EC25EFAR06A06M4G")) == ("Quectel", "EC25", "EC25EFAR06A06M4G")
    assert parse_ati(("Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600G-H", "Revision: X")) == (
        "SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H", "X")
    assert parse_ati(("SIM800 R14.18",)) == (None, "SIM800 R14.18", None)


def test_status_parsers() -> None:
    assert registration_of(["2", "1"]) == "home" and registration_of([None, "5"]) == "roaming"
    assert registration_of(["3"]) == "denied" and registration_of([None]) == "unknown"
    assert ims_of(["0", "1"]) == "registered" and ims_of(["0"]) == "not registered" and ims_of([None]) == "unknown"
    assert signal_of(Reply(Command("AT+CSQ"), "ok", ("+CSQ: 23,99",))) == {"rssi": 23, "dbm": -67}
    assert signal_of(Reply(Command("AT+CSQ"), "ok", ("+CSQ: 99,99",))) is None


def test_not_registered_for_volte_is_a_fault_in_the_report() -> None:
    s = status()
    s.set(sim="READY", registration="home", ims="not registered")
    assert any("VoLTE" in fault for fault in s.snapshot()["faults"])
    s.set(ims="registered")
    assert s.snapshot()["faults"] == []


def test_sms_is_ucs2_text_mode_with_the_number_in_ucs2_too() -> None:
    commands = sms_commands("0912345678", "Mật khẩu VssID đã được đặt lại", command_s=1, send_s=30)
    texts = [c.text for c in commands]
    assert texts[:3] == ["AT+CMGF=1", 'AT+CSCS="UCS2"', "AT+CSMP=17,167,0,8"]
    assert texts[3] == f'AT+CMGS="{ucs2("0912345678")}"' and texts[4] == 'AT+CSCS="GSM"'
    assert commands[3].payload == ucs2("Mật khẩu VssID đã được đặt lại").encode()
    assert commands[3].payload_end == b"\x1a"
    assert commands[3].shown is not None and "0912345678" not in commands[3].shown
    assert ucs2("Mật") == "004D1EAD0074"


@pytest.mark.parametrize(("number", "text"), [("0912345678", "x" * (MAX_CHARS + 1)), ("abc", "hi"), ("091", "")])
def test_sms_that_cannot_be_one_message_is_refused(number: str, text: str) -> None:
    with pytest.raises(SmsError):
        sms_commands(number, text, command_s=1, send_s=30)


def test_masks() -> None:
    assert mask_number("0912345678") == "09******78" and mask_number("+84912345678") == "+84*******78"
    assert mask_number(None) == "anonymous"
    assert redact('+CLIP: "0912345678",129') == '+CLIP: "09******78",129'
    assert redact("+QTONEDET: 56", ("+QTONEDET:",)) == "+QTONEDET: *"
    assert "0030003900" not in redact('AT+CMGS="00300039003100320033"')


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_every_urc_the_profile_relies_on_is_in_its_table(profile: Profile) -> None:
    table = UrcTable(profile.urcs)
    needed = [profile.dtmf_prefix + " 1", *profile.play_end, *profile.boot_urcs, *profile.hangup_urcs, "RING",
              '+CLIP: "0912345678",129']
    if profile.call_state_prefix:
        needed.append(profile.call_state_prefix + ",1,1,4,0,0")
    assert [text for text in needed if table.match(text) is None] == []
    assert profile.store.path("d0").endswith(f"d0.{profile.store.fmt}")
    assert "{path}" in profile.play and profile.canary.reply in profile.urcs
