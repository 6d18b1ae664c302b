"""Caller ID on an analog line: the report's variants, read tolerantly, and the bounded wait between the rings
(a fake clock; the tracker is pure)."""
from __future__ import annotations

import logging

import pytest

from drivers.line import IncomingCall, KeyPressed, RemoteHangup
from drivers.v253.callerid import CallerIdRecord, parse_hex_packet, parse_line, read_number
from drivers.v253.calls import ACTIVE, IDLE, CallTracker
from drivers.v253.timings import V253Timings

T = V253Timings(cid_window_s=8.0, cid_settle_s=0.3, ring_gone_s=9.0)
NUMBER = "0912345678"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def record_of(*lines: str) -> CallerIdRecord:
    record = CallerIdRecord()
    for text in lines:
        found = parse_line(text)
        assert found is not None, text
        record.add(found)
    return record


# -- the report, line by line --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["NMBR = 0912345678", "NMBR=0912345678", "nmbr =0912345678 ", "NMBR = 091 234-5678"])
def test_number_lines_with_or_without_spaces(text: str) -> None:
    assert record_of(text).number == NUMBER


@pytest.mark.parametrize(("value", "absence"), [("P", "private"), ("O", "unavailable"), ("PRIVATE", "private"),
                                                ("", "malformed"), ("09x2", "malformed")])
def test_no_number_means_withheld(value: str, absence: str) -> None:
    assert read_number(value) == (None, absence)


def test_a_whole_formatted_report() -> None:
    record = record_of("DATE = 0410", "TIME = 1844", f"NMBR = {NUMBER}", "NAME = NGUYEN VAN A")
    assert (record.date, record.time, record.number, record.name) == ("0410", "1844", NUMBER, "NGUYEN VAN A")


def test_a_garbage_date_is_ignored_and_the_number_kept(caplog: pytest.LogCaptureFixture) -> None:
    record = record_of("DATE = 1399", "TIME = 2?61", f"NMBR = {NUMBER}")
    assert (record.date, record.time, record.number) == (None, None, NUMBER)
    assert "malformed date" in caplog.text and NUMBER not in caplog.text


def test_lines_that_are_not_caller_id() -> None:
    assert parse_line("RING") is None and parse_line("DATE") is None and parse_line("56000") is None


def test_unformatted_sdmf_and_mdmf_packets() -> None:
    sdmf = bytes([0x04, 18]) + b"04101844" + NUMBER.encode()
    assert parse_hex_packet(sdmf.hex()) is not None
    assert parse_hex_packet(sdmf.hex()).number == NUMBER  # type: ignore[union-attr]
    mdmf = bytes([0x80, 16, 0x01, 8]) + b"04101844" + bytes([0x04, 1]) + b"P" + bytes([0x07, 1]) + b"X"
    record = parse_hex_packet(mdmf.hex())
    assert record is not None and record.number is None and record.absence == "private" and record.date == "0410"
    assert parse_hex_packet("0412AB") is None and parse_hex_packet("zz") is None


# -- the wait between the rings ------------------------------------------------------------------------------------------
class Ringing:
    def __init__(self) -> None:
        self.clock = Clock()
        self.tracker = CallTracker("v0", self.clock, T)

    def at(self, seconds: float) -> list[object]:
        """Advance to `seconds` after the start and poll."""
        self.clock.t = 1000.0 + seconds
        return list(self.tracker.poll())

    def line(self, seconds: float, text: str) -> list[object]:
        self.clock.t = 1000.0 + seconds
        if text == "RING":
            return list(self.tracker.ring())
        self.tracker.caller_id(text)
        return []


def test_number_between_ring_1_and_2_announced_once_the_record_is_complete() -> None:
    r = Ringing()
    assert r.line(0, "RING") == []
    for text in ("DATE = 0410", "TIME = 1844", f"NMBR = {NUMBER}"):
        r.line(1.0, text)
    assert r.at(1.2) == []  # NAME may follow
    r.line(1.25, "NAME = X")
    assert r.at(1.31) == [IncomingCall("v0-1", NUMBER)]
    assert r.at(5.0) == [] and r.line(5.0, "RING") == []  # the second RING changes nothing


def test_the_next_ring_completes_a_record_at_once() -> None:
    r = Ringing()
    r.line(0, "RING")
    r.line(1.0, f"NMBR = {NUMBER}")
    assert r.line(1.1, "RING") == [IncomingCall("v0-1", NUMBER)]


@pytest.mark.parametrize("value", ["P", "O"])
def test_withheld_or_unavailable_is_announced_as_none(value: str) -> None:
    r = Ringing()
    r.line(0, "RING")
    r.line(1.0, f"NMBR = {value}")
    assert r.at(1.4) == [IncomingCall("v0-1", None)]


def test_number_after_ring_2_inside_the_window_is_taken() -> None:
    r = Ringing()
    r.line(0, "RING")
    assert r.at(4.9) == []
    r.line(5.0, "RING")
    r.line(6.5, f"NMBR={NUMBER}")
    assert r.at(6.9) == [IncomingCall("v0-1", NUMBER)]


def test_no_number_within_the_window_is_withheld_and_a_late_one_ignored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    r = Ringing()
    r.line(0, "RING")
    r.line(1.0, "DATE = 0410")  # a record without NMBR
    r.line(5.0, "RING")
    assert r.at(7.9) == []
    assert r.at(8.0) == [IncomingCall("v0-1", None)]
    r.line(8.5, f"NMBR = {NUMBER}")
    assert r.at(9.0) == [] and "after the call was announced" in caplog.text and NUMBER not in caplog.text


def test_caller_id_before_the_first_ring_counts() -> None:
    r = Ringing()
    r.line(0, f"NMBR = {NUMBER}")
    assert r.at(0.1) == []  # nothing rings yet
    r.line(0.5, "RING")
    assert r.at(0.6) == [IncomingCall("v0-1", NUMBER)]


def test_ringing_that_stops_before_the_announcement_is_forgotten() -> None:
    r = Ringing()
    r.tracker = CallTracker("v0", r.clock, V253Timings(cid_window_s=20.0, ring_gone_s=9.0))
    r.line(0, "RING")
    assert r.at(9.5) == [] and r.tracker.phase == IDLE


def test_an_unanswered_call_that_stops_ringing_is_a_remote_hangup() -> None:
    r = Ringing()
    r.line(0, "RING")
    r.line(1.0, f"NMBR = {NUMBER}")
    assert r.at(1.5) == [IncomingCall("v0-1", NUMBER)]
    assert r.at(9.4) == [RemoteHangup("v0-1")]


def test_keys_count_only_in_an_answered_call() -> None:
    r = Ringing()
    r.line(0, "RING")
    r.line(1.0, f"NMBR = {NUMBER}")
    r.at(1.5)
    assert r.tracker.key("8") == []
    assert r.tracker.answering("v0-1") and r.tracker.key("8") == [KeyPressed("v0-1", "8")]
    r.tracker.answered()
    assert r.tracker.phase == ACTIVE and r.tracker.drop("busy tone") == [RemoteHangup("v0-1")]


def test_garbage_lines_never_raise() -> None:
    r = Ringing()
    r.line(0, "RING")
    for text in ("NMBR = \x01\x02", "DATE = ", "TIME = 99999", "0412FFFF", "ABCDEF0123456789", "NAME = "):
        r.line(1.0, text)
    assert r.at(8.0) == [IncomingCall("v0-1", None)]
