"""The command engine with a fake clock: one command in flight, timeouts, bounded retries, URCs never swallowed."""
from __future__ import annotations

from drivers.gsm.codec import AtCodec, UrcTable
from drivers.gsm.engine import Command, CommandEngine, Reply
from drivers.gsm.profiles import EC25


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Rig:
    def __init__(self) -> None:
        self.clock = Clock()
        self.written: list[bytes] = []
        self.urcs: list[str] = []
        self.replies: list[Reply] = []
        self.codec = AtCodec(UrcTable(EC25.urcs))
        self.engine = CommandEngine("gsm0", self.written.append, lambda u: self.urcs.append(u.text), self.clock)

    def modem(self, data: bytes) -> None:
        self.engine.feed(self.codec.feed(data))

    def submit(self, command: Command) -> None:
        self.engine.submit(command, self.replies.append)

    def sent(self) -> list[str]:
        return [w.decode().strip() for w in self.written if w.endswith(b"\r")]


def test_one_command_in_flight_the_next_waits_for_the_reply() -> None:
    rig = Rig()
    rig.submit(Command("AT+CLIP=1"))
    rig.submit(Command("AT+QTONEDET=1"))
    assert rig.sent() == ["AT+CLIP=1"]
    rig.modem(b"\r\nOK\r\n")
    assert rig.sent() == ["AT+CLIP=1", "AT+QTONEDET=1"]
    rig.modem(b"\r\nOK\r\n")
    assert [r.status for r in rig.replies] == ["ok", "ok"] and rig.engine.idle


def test_urcs_arriving_while_a_command_waits_are_delivered_at_once() -> None:
    rig = Rig()
    rig.submit(Command("AT+CSQ"))
    rig.modem(b"\r\n+QTONEDET: 56\r\n\r\n+CSQ: 20,99\r\n\r\nRING\r\n")
    assert rig.urcs == ["+QTONEDET: 56", "RING"] and not rig.replies
    rig.modem(b"\r\nOK\r\n")
    assert rig.replies[0].lines == ("+CSQ: 20,99",)


def test_a_reply_line_sharing_a_urc_prefix_belongs_to_the_command_that_asked() -> None:
    rig = Rig()
    rig.submit(Command("AT+CLIP?", response="+CLIP:"))
    rig.modem(b"\r\n+CLIP: 1,1\r\n\r\nOK\r\n")
    assert rig.replies[0].lines == ("+CLIP: 1,1",) and rig.urcs == []
    rig.modem(b'\r\n+CLIP: "0912345678",129\r\n')  # the same prefix with nothing asked: a URC
    assert rig.urcs == ['+CLIP: "0912345678",129']


def test_timeout_after_bounded_retries() -> None:
    rig = Rig()
    rig.submit(Command("AT", timeout_s=1.0, retries=2))
    for _ in range(3):
        rig.clock.t += 0.99
        rig.engine.poll()
        assert not rig.replies
        rig.clock.t += 0.02
        rig.engine.poll()
    assert rig.sent() == ["AT", "AT", "AT"]
    assert [r.status for r in rig.replies] == ["timeout"]


def test_a_retry_answered_in_time_succeeds() -> None:
    rig = Rig()
    rig.submit(Command("AT+CPIN?", timeout_s=1.0, retries=1, response="+CPIN:"))
    rig.clock.t += 1.5
    rig.engine.poll()
    rig.modem(b"\r\n+CPIN: READY\r\n\r\nOK\r\n")
    assert rig.replies[0].ok and rig.replies[0].lines == ("+CPIN: READY",)


def test_typed_errors_reach_the_caller() -> None:
    rig = Rig()
    rig.submit(Command("AT+CPIN?"))
    rig.modem(b"\r\n+CME ERROR: 10\r\n")
    reply = rig.replies[0]
    assert reply.status == "error" and reply.final is not None and reply.final.code == 10


def test_no_carrier_ends_an_answer_and_is_still_delivered() -> None:
    rig = Rig()
    rig.submit(Command("ATA", ends_on=("NO CARRIER",)))
    rig.submit(Command("AT+QPSND=1,\"welcome.wav\",0,1,1"))
    rig.modem(b"\r\nNO CARRIER\r\n")
    assert rig.urcs == ["NO CARRIER"]
    assert rig.replies[0].status == "error" and rig.sent()[-1].startswith("AT+QPSND")


def test_no_carrier_during_another_command_is_only_a_urc() -> None:
    rig = Rig()
    rig.submit(Command("AT+CSQ"))
    rig.modem(b"\r\nNO CARRIER\r\n")
    assert rig.urcs == ["NO CARRIER"] and not rig.replies


def test_payload_goes_after_the_prompt_and_resets_the_deadline() -> None:
    rig = Rig()
    rig.submit(Command('AT+QFUPL="d0.wav",4,10', timeout_s=2.0, payload=b"RIFF"))
    rig.clock.t += 1.5
    rig.modem(b"\r\nCONNECT\r\n")
    assert rig.written[-1] == b"RIFF"
    rig.clock.t += 1.5
    rig.engine.poll()
    assert not rig.replies  # the deadline restarted when the data went out
    rig.modem(b"\r\n+QFUPL: 4,1a2b\r\n\r\nOK\r\n")
    assert rig.replies[0].ok and rig.replies[0].lines == ("+QFUPL: 4,1a2b",)


def test_bytes_read_before_a_command_was_sent_are_not_its_reply() -> None:
    rig = Rig()
    rig.submit(Command("AT+CSQ"))
    rig.submit(Command("AT+CREG?", response="+CREG:"))
    # one read holds the reply to AT+CSQ and a stray OK; AT+CREG? goes out while that read is handled
    rig.modem(b"\r\nOK\r\n\r\nOK\r\n")
    assert [r.command.text for r in rig.replies] == ["AT+CSQ"]
    rig.modem(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n")
    assert rig.replies[1].lines == ("+CREG: 0,1",)


def test_unknown_unsolicited_lines_go_to_the_owner_not_to_nowhere() -> None:
    rig = Rig()
    rig.modem(b"\r\n+XYZ: 1\r\n\r\nOK\r\n")
    assert rig.urcs == ["+XYZ: 1"]  # the stray OK is logged and dropped


def test_abort_fails_everything_waiting() -> None:
    rig = Rig()
    rig.submit(Command("AT"))
    rig.submit(Command("AT+CSQ"))
    rig.engine.abort("port closed")
    assert [r.status for r in rig.replies] == ["aborted", "aborted"] and rig.engine.idle


def test_a_done_callback_may_submit_the_next_command() -> None:
    rig = Rig()
    order: list[str] = []

    def chain(reply: Reply) -> None:
        order.append(reply.command.text)
        if reply.command.text == "AT":
            rig.engine.submit(Command("ATE0"), chain)

    rig.engine.submit(Command("AT"), chain)
    rig.modem(b"\r\nOK\r\n")
    assert rig.sent() == ["AT", "ATE0"]
    rig.modem(b"\r\nOK\r\n")
    assert order == ["AT", "ATE0"]


def test_wire_log_hides_what_it_must(caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    from drivers.serialmodem.privacy import redact

    caplog.set_level(logging.DEBUG, logger="drivers.gsm.wire")
    rig = Rig()
    rig.engine = CommandEngine("gsm0", rig.written.append, lambda u: None, rig.clock,
                               lambda text: redact(text, ("+QTONEDET:",)))
    rig.engine.submit(Command('AT+CPIN="1234"', shown='AT+CPIN="****"'))
    rig.modem(b'\r\nOK\r\n\r\n+CLIP: "0912345678",129\r\n\r\n+QTONEDET: 56\r\n')
    text = caplog.text
    assert "1234" not in text.replace("****", "") and "0912345678" not in text and "56" not in text
    assert "09******78" in text
