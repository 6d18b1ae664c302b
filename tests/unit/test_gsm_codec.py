"""The AT codec on recorded-style transcripts: split and joined lines, URCs mid-reply, echo, garbage, prompts."""
from __future__ import annotations

import random

import pytest

from drivers.gsm.codec import MAX_LINE, AtCodec, Echo, Final, Info, Noise, Prompt, Urc, UrcTable
from drivers.gsm.profiles import EC25, SIM800, SIM7600


def codec(profile=EC25) -> AtCodec:  # type: ignore[no-untyped-def]
    return AtCodec(UrcTable(profile.urcs))


def feed_all(c: AtCodec, *chunks: bytes) -> list[object]:
    events: list[object] = []
    for chunk in chunks:
        events.extend(c.feed(chunk))
    return events


# An EC25 right after a reset (echo on), answering ATE0 while a call rings in: recorded shape, numbers made up.
EC25_TRANSCRIPT = (
    b"ATE0\r\r\nOK\r\n"
    b"\r\nRING\r\n\r\n+CLIP: \"0912345678\",129,\"\",0,\"\",0\r\n"
    b"\r\n+QIND: \"ccinfo\",1,1,4,0,0,\"0912345678\",129\r\n"
    b"\r\n+CSQ: 23,99\r\n\r\nOK\r\n"
    b"\r\n+QTONEDET: 56\r\n"
    b"\r\n+CME ERROR: 3\r\n"
)


def test_a_recorded_ec25_transcript_reads_as_typed_events() -> None:
    assert codec().feed(EC25_TRANSCRIPT) == [
        Echo("ATE0"),
        Final("ok", "OK"),
        Urc("RING", "RING"),
        Urc("+CLIP:", '+CLIP: "0912345678",129,"",0,"",0'),
        Urc("+QIND:", '+QIND: "ccinfo",1,1,4,0,0,"0912345678",129'),
        Info("+CSQ: 23,99"),  # a reply that starts with '+' is not a URC
        Final("ok", "OK"),
        Urc("+QTONEDET:", "+QTONEDET: 56"),
        Final("cme", "+CME ERROR: 3", 3),
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_split_anywhere_gives_the_same_events(size: int) -> None:
    whole = codec().feed(EC25_TRANSCRIPT)
    c = codec()
    pieces = [EC25_TRANSCRIPT[i:i + size] for i in range(0, len(EC25_TRANSCRIPT), size)]
    assert feed_all(c, *pieces) == whole


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r"])
def test_every_line_ending_variation(ending: bytes) -> None:
    data = ending.join([b"", b"+CREG: 0,1", b"OK", b"NO CARRIER", b""])
    assert codec().feed(data) == [Urc("+CREG:", "+CREG: 0,1"), Final("ok", "OK"), Urc("NO CARRIER", "NO CARRIER")]


def test_a_urc_in_the_middle_of_a_reply_keeps_its_place() -> None:
    data = b"\r\n+QFLST: \"UFS:d0.wav\",4486\r\n\r\n+QTONEDET: 49\r\n\r\n+QFLST: \"UFS:d1.wav\",3058\r\n\r\nOK\r\n"
    kinds = [type(e).__name__ for e in codec().feed(data)]
    assert kinds == ["Info", "Urc", "Info", "Final"]


def test_nuls_and_garbage_are_skipped_and_never_raise() -> None:
    events = codec().feed(b"\x00\x00O\x00K\r\n\xff\xfe\x80garbage\r\n\r\nRING\r\n")
    assert events[0] == Final("ok", "OK")
    assert isinstance(events[1], Noise)
    assert events[2] == Urc("RING", "RING")


def test_random_bytes_never_raise() -> None:
    rng = random.Random(4)
    c = codec(SIM7600)
    for _ in range(300):
        c.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    assert c.feed(b"\r\nOK\r\n")[-1] == Final("ok", "OK")


def test_an_endless_line_is_noise_not_memory() -> None:
    c = codec()
    events = c.feed(b"A" * (MAX_LINE + 10))
    assert len(events) == 1 and isinstance(events[0], Noise)
    assert c.feed(b"\r\nOK\r\n") == [Final("ok", "OK")]


def test_upload_prompts() -> None:
    assert codec().feed(b"\r\nCONNECT\r\n") == [Prompt("CONNECT")]
    assert codec(SIM7600).feed(b"\r\n>") == [Prompt(">")]
    c = codec(SIM800)
    assert c.feed(b"\r\n") == [] and c.feed(b"> ") == [Prompt(">")]


def test_typed_errors() -> None:
    events = codec().feed(b"ERROR\r\n+CME ERROR: 10\r\n+CMS ERROR: 305\r\n+CME ERROR: SIM not inserted\r\n")
    assert events == [
        Final("error", "ERROR"),
        Final("cme", "+CME ERROR: 10", 10),
        Final("cms", "+CMS ERROR: 305", 305),
        Final("cme", "+CME ERROR: SIM not inserted", None),
    ]


def test_urcs_come_from_the_profile_table_only() -> None:
    line = b"\r\n+RXDTMF: 5\r\n"
    assert codec(SIM7600).feed(line) == [Urc("+RXDTMF:", "+RXDTMF: 5")]
    assert codec(EC25).feed(line) == [Info("+RXDTMF: 5")]  # not an EC25 URC: the engine decides what it is


def test_whole_word_entries_do_not_match_prefixes_of_other_words() -> None:
    table = UrcTable(["RING", "Call Ready", "+QIND:"])
    assert table.match("RING") == "RING"
    assert table.match("RINGBACK") is None
    assert table.match("Call Ready") == "Call Ready"
    assert table.match('+QIND: "ccinfo",1') == "+QIND:"


def test_echo_of_a_command_is_recognised() -> None:
    assert codec().feed(b"AT+CLIP=1\r\r\nOK\r\n") == [Echo("AT+CLIP=1"), Final("ok", "OK")]


def test_an_8_bit_name_inside_a_caller_id_does_not_lose_the_number() -> None:
    line = '+CLIP: "0912345678",129,"",0,"Nguyễn",0'.encode("utf-8")
    (event,) = codec().feed(b"\r\n" + line + b"\r\n")
    assert isinstance(event, Urc) and event.prefix == "+CLIP:" and '"0912345678"' in event.text
