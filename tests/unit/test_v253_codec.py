"""The sans-I/O V.253 codec: lines, shielded events and DLE-stuffed audio, with the buffer split anywhere."""
from __future__ import annotations

import random

import pytest

from drivers.v253.codec import (AUDIO, COMMAND, Audio, Echo, Event, Line, Noise, Result, Shielded, StreamEnd,
                                V253Codec, stuff)

DLE, ETX, SUB = b"\x10", b"\x03", b"\x1a"


def merged(events: list[Event]) -> list[Event]:
    """Adjacent Audio events joined: how audio is split between events depends on the reads, nothing else does."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, Audio) and out and isinstance(out[-1], Audio):
            out[-1] = Audio(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def feed_in_pieces(data: bytes, cuts: list[int], receive: bool = True) -> list[Event]:
    codec = V253Codec()
    codec.audio_on_connect = receive
    events: list[Event] = []
    start = 0
    for cut in sorted(cuts) + [len(data)]:
        events += codec.feed(data[start:cut])
        start = cut
    return merged(events)


#: a whole receive state: CONNECT, audio with a stuffed 0x10 and a <DLE><SUB>, a key, the end, then OK
SESSION = (b"\r\nCONNECT\r\n" + b"\x80\x81" + DLE + DLE + b"\x7f" + DLE + b"5" + b"\x82" + DLE + SUB + b"\x83"
           + DLE + b"b" + b"\x80" + DLE + ETX + b"\r\nOK\r\n")
EXPECTED = [Result("connect", "CONNECT"), Audio(b"\x80\x81\x10\x7f"), Shielded("5"), Audio(b"\x82\x10\x10\x83"),
            Shielded("b"), Audio(b"\x80"), StreamEnd(), Result("ok", "OK")]


def test_a_receive_state_read_in_one_piece() -> None:
    assert feed_in_pieces(SESSION, []) == EXPECTED


def test_every_single_split_gives_the_same_events_even_between_dle_and_its_code() -> None:
    for cut in range(1, len(SESSION)):
        assert feed_in_pieces(SESSION, [cut]) == EXPECTED, cut


def test_byte_by_byte_and_random_splits_give_the_same_events() -> None:
    assert feed_in_pieces(SESSION, list(range(1, len(SESSION)))) == EXPECTED
    rng = random.Random(6)
    for _ in range(200):
        cuts = rng.sample(range(1, len(SESSION)), rng.randint(1, 8))
        assert feed_in_pieces(SESSION, cuts) == EXPECTED, cuts


def test_stuffed_audio_comes_back_byte_for_byte() -> None:
    rng = random.Random(253)
    audio = bytes(rng.choice([0x10, 0x10, 0x03, 0x0D, 0x0A, 0x80, 0x00, 0xFF, 0x1A]) for _ in range(5000))
    stream = b"CONNECT\r\n" + stuff(audio) + DLE + ETX
    events = feed_in_pieces(stream, rng.sample(range(1, len(stream)), 50))
    assert events == [Result("connect", "CONNECT"), Audio(audio), StreamEnd()]


def test_stuff_doubles_every_dle() -> None:
    assert stuff(b"\x10a\x10\x10") == b"\x10\x10a\x10\x10\x10\x10"


def test_connect_for_playback_keeps_reading_lines_and_key_reports() -> None:
    codec = V253Codec()  # AT+VTX: no audio comes back, only <DLE> events and the final OK
    events = codec.feed(b"\r\nCONNECT\r\n" + DLE + b"/" + DLE + b"8" + DLE + b"~" + b"\r\nOK\r\n")
    assert events == [Result("connect", "CONNECT"), Shielded("/"), Shielded("8"), Shielded("~"), Result("ok", "OK")]
    assert codec.mode == COMMAND


def test_results_replies_echo_and_ring() -> None:
    codec = V253Codec()
    events = codec.feed(b"ATI0\r\r\n56000\r\n\r\nOK\r\nRING\r\nNMBR = 0912345678\r\n\r\nVCON\r\nERROR\r\n")
    assert events == [Echo("ATI0"), Line("56000"), Result("ok", "OK"), Line("RING"), Line("NMBR = 0912345678"),
                      Result("vcon", "VCON"), Result("error", "ERROR")]
    assert Result("vcon", "VCON").ok


def test_an_aborted_receive_without_dle_etx_ends_in_noise_then_ok() -> None:
    """Conexant answers <DLE>! with OK alone: the audio still in flight must not hide the OK."""
    codec = V253Codec()
    codec.audio_on_connect = True
    assert codec.feed(b"CONNECT\r\n\x80\x81") == [Result("connect", "CONNECT"), Audio(b"\x80\x81")]
    codec.leave_audio()
    events = codec.feed(b"\x82\x7f\x10\x10\x83\r\x81\x80" + DLE + b"3" + b"\r\nOK\r\n")
    assert [e for e in events if not isinstance(e, Noise)] == [Shielded("3"), Result("ok", "OK")]
    assert codec.mode == COMMAND


def test_crlf_split_after_connect_is_not_taken_for_audio() -> None:
    codec = V253Codec()
    codec.audio_on_connect = True
    assert codec.feed(b"\r\nCONNECT\r") == [Result("connect", "CONNECT")]
    assert codec.mode == AUDIO
    assert codec.feed(b"\n\x80\x80") == [Audio(b"\x80\x80")]


@pytest.mark.parametrize("receive", [False, True])
def test_garbage_never_raises_and_an_endless_line_is_noise(receive: bool) -> None:
    rng = random.Random(1)
    codec = V253Codec()
    codec.audio_on_connect = receive
    for _ in range(300):
        codec.feed(bytes(rng.randrange(256) for _ in range(rng.randint(0, 64))))
    codec.reset()
    events = codec.feed(b"A" * 600)
    assert events and isinstance(events[0], Noise)
    assert codec.feed(b"\r\nOK\r\n")[-1] == Result("ok", "OK")
