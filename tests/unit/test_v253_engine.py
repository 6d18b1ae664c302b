"""The V.253 command engine with a fake clock (one command in flight, CONNECT as an answer, raw data-state ends,
RING and caller ID never swallowed), and bring-up against a scripted stick."""
from __future__ import annotations

import pytest

from drivers.v253.bringup import BringUpError, Setup, answer_commands, bring_up
from drivers.v253.codec import Audio, Shielded, StreamEnd, V253Codec
from drivers.v253.engine import Command, CommandEngine, Reply
from drivers.v253.profiles import CX93010, GENERIC, USR5637
from drivers.v253.status import LineStatus
from drivers.v253.timings import V253Timings


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Rig:
    def __init__(self) -> None:
        self.clock = Clock()
        self.codec = V253Codec()
        self.written: list[bytes] = []
        self.lines: list[str] = []
        self.stream: list[object] = []
        self.replies: list[Reply] = []
        self.engine = CommandEngine("v0", self.written.append, self.codec, self.lines.append, self.stream.append,
                                    self.clock)

    def modem(self, data: bytes) -> None:
        self.engine.feed(self.codec.feed(data))

    def submit(self, command: Command) -> None:
        self.engine.submit(command, self.replies.append)


def test_one_command_in_flight_the_next_waits_for_the_reply() -> None:
    rig = Rig()
    rig.submit(Command("AT+FCLASS=8"))
    rig.submit(Command("AT+VLS=1"))
    assert rig.written == [b"AT+FCLASS=8\r"]
    rig.modem(b"\r\nOK\r\n")
    assert rig.written[-1] == b"AT+VLS=1\r"
    rig.modem(b"\r\nVCON\r\n")
    assert [r.status for r in rig.replies] == ["ok", "ok"] and rig.engine.idle


def test_ring_and_caller_id_during_a_command_are_delivered_and_the_reply_kept() -> None:
    rig = Rig()
    rig.submit(Command("ATI0"))
    rig.modem(b"\r\nRING\r\n\r\n56000\r\nNMBR = 0912345678\r\n\r\nOK\r\n")
    assert rig.lines == ["RING", "NMBR = 0912345678"]
    assert rig.replies[0].lines == ("56000",)


def test_connect_answers_a_data_state_and_audio_goes_to_the_stream() -> None:
    rig = Rig()
    rig.submit(Command("AT+VRX", connect=True, receive=True))
    assert rig.codec.audio_on_connect
    rig.modem(b"\r\nCONNECT\r\n\x80\x10\x10\x10" + b"5")
    assert rig.replies[0].status == "connect"
    assert rig.stream == [Audio(b"\x80\x10"), Shielded("5")]


def test_connect_to_an_ordinary_command_is_an_error() -> None:
    rig = Rig()
    rig.submit(Command("AT+VLS=1"))
    rig.modem(b"\r\nCONNECT\r\n")
    assert rig.replies[0].status == "error"


def test_a_data_state_is_ended_by_raw_bytes_and_answered_by_ok() -> None:
    rig = Rig()
    rig.submit(Command("end of playback", raw=b"\x10\x03"))
    assert rig.written == [b"\x10\x03"]
    rig.modem(b"\x10\x03\r\nOK\r\n")
    assert rig.replies[0].ok and rig.stream == [StreamEnd()]


def test_timeout_resends_a_safe_command_then_gives_up() -> None:
    rig = Rig()
    rig.submit(Command("ATZ", timeout_s=1.0, retries=1))
    rig.clock.t += 1.1
    rig.engine.poll()
    assert rig.written == [b"ATZ\r", b"ATZ\r"] and not rig.replies
    rig.clock.t += 1.1
    rig.engine.poll()
    assert rig.replies[0].status == "timeout"


def test_bytes_read_with_the_send_are_not_its_reply() -> None:
    rig = Rig()
    first: list[Reply] = []
    second: list[Reply] = []

    def then(reply: Reply) -> None:
        first.append(reply)
        rig.engine.submit(Command("AT+VLS=1"), second.append)

    rig.engine.submit(Command("AT+FCLASS=8"), then)
    rig.modem(b"\r\nOK\r\n\r\nOK\r\n")  # a stray OK in the same read must not answer the second command
    assert len(first) == 1 and not second


def test_abort_fails_everything_waiting() -> None:
    rig = Rig()
    rig.submit(Command("AT"))
    rig.submit(Command("ATI0"))
    rig.engine.abort("port closed")
    assert [r.status for r in rig.replies] == ["aborted", "aborted"]


def test_unsolicited_no_carrier_goes_to_the_call_side() -> None:
    rig = Rig()
    rig.modem(b"\r\nNO CARRIER\r\n")
    assert rig.lines == ["NO CARRIER"]


# -- bring-up against a scripted stick ---------------------------------------------------------------------------------
class Stick:
    """Answers commands from a table: text → (status, lines); anything else OK."""

    def __init__(self, answers: dict[str, tuple[str, tuple[str, ...]]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def __call__(self, command: Command) -> Reply:
        self.sent.append(command.text)
        status, lines = self.answers.get(command.text, ("ok", ()))
        return Reply(command, status, lines)


def status() -> LineStatus:
    return LineStatus(line="v0", profile="cx93010", family="conexant", port="x", dtmf="detector", unverified=())


def test_bring_up_reads_the_formats_and_tries_each_vsm_form() -> None:
    stick = Stick({
        "ATI0": ("ok", ("56000",)),
        "AT+VSM=?": ("ok", ('1,"UNSIGNED PCM",8,0,(8000),(0),(0)', '129,"IMA ADPCM",4,0,(8000),(0),(0)')),
        "AT+VSM=1,8000,0,0": ("error", ()),
        "AT+VTR=?": ("error", ()),
    })
    report = status()
    setup = bring_up(stick, CX93010, V253Timings(), report)
    assert setup == Setup("u8", 1, "AT+VSM=1,8000", duplex=False, caller_id=True)
    assert stick.sent[:3] == ["ATZ", "ATE0", "ATV1"]
    assert stick.sent[-1] == "AT-SCID=1;+VCID=1;-STE=7"
    snapshot = report.snapshot()
    assert snapshot["family"] == "conexant" and snapshot["duplex"] is False
    assert snapshot["faults"] == ["no full duplex (AT+VTR): keys during prompts come from the modem's reports only"]


def test_an_unreadable_format_list_falls_back_to_the_profile_and_says_so() -> None:
    stick = Stick({"ATI0": ("ok", ("5601",)), "AT+VSM=?": ("error", ())})
    report = status()
    setup = bring_up(stick, USR5637, V253Timings(), report)
    assert (setup.fmt, setup.vsm) == ("u8", "AT+VSM=128,8000")
    assert any("AT+VSM=? unreadable" in fault for fault in report.snapshot()["faults"])
    assert any("expects a conexant stick" in fault for fault in report.snapshot()["faults"])


def test_a_stick_refusing_voice_mode_is_a_bring_up_error() -> None:
    with pytest.raises(BringUpError, match="FCLASS=8"):
        bring_up(Stick({"AT+FCLASS=8": ("error", ())}), GENERIC, V253Timings(), status())


def test_refused_caller_id_is_a_fault_not_a_failure() -> None:
    report = status()
    setup = bring_up(Stick({"AT+VCID=1": ("error", ())}), GENERIC, V253Timings(), report)
    assert not setup.caller_id and report.snapshot()["caller_id"] == "refused"


def test_every_call_sends_voice_mode_format_silence_inactivity_and_off_hook() -> None:
    setup = Setup("u8", 128, "AT+VSM=128,8000", duplex=False, caller_id=True)
    commands = answer_commands(USR5637, setup, V253Timings(silence_s=12.0, vit_s=10))
    assert [(c.text, required) for c, required in commands] == [
        ("AT+FCLASS=8", True), ("AT+VSM=128,8000", True), ("AT+VSD=128,120", False), ("AT+VIT=10", False),
        ("AT+VLS=1", True)]
