"""YMODEM framing and the two state machines against each other in memory (no port, fake time)."""
from __future__ import annotations

import os

import pytest

from provisioning.console.ymodem import (ACK, CAN, CRC_REQUEST, EOT, NAK, Header, YmodemError, crc16,
                                         decode_block, decode_header, encode_block, encode_header)
from provisioning.console.ymodem_receiver import (Aborted, BatchDone, Event, FileData, FileDone, FileStarted,
                                                  Receiver, ReceiverTimings)
from provisioning.console.ymodem_sender import FileSent, OutgoingFile, Progress, Sender


def test_crc16_is_the_xmodem_crc() -> None:
    assert crc16(b"123456789") == 0x31C3  # the catalogue check value of CRC-16/XMODEM


def test_block_round_trip_and_damage_detected() -> None:
    frame = encode_block(7, bytes(range(128)))
    assert frame[:3] == bytes([0x01, 7, 248]) and len(frame) == 133
    assert decode_block(frame) == (7, bytes(range(128)))
    bad = bytearray(frame)
    bad[50] ^= 0x10
    assert decode_block(bytes(bad)) is None
    with pytest.raises(YmodemError):
        encode_block(1, b"short")


def test_header_round_trip_like_lrzsz() -> None:
    payload = encode_header(Header("snapshot.db", 123456, 0o14567))
    assert payload.startswith(b"snapshot.db\x00123456 14567\x00") and len(payload) == 128
    assert decode_header(payload) == Header("snapshot.db", 123456, 0o14567)
    assert decode_header(b"a.wav\x00" + b"42 14567 100644 0 1 42\x00".ljust(122, b"\0")).size == 42
    assert decode_header(bytes(128)) == Header("")
    with pytest.raises(YmodemError):
        decode_header(b"x\x00twelve\x00".ljust(128, b"\0"))


def run_pair(sender: Sender, receiver: Receiver, mangle=lambda direction, data: data, steps: int = 20000
             ) -> list[Event | Progress | FileSent]:
    """Shuttle bytes between the machines with a fake clock advancing 0.1 s per round."""
    events: list = []
    now = 0.0
    to_sender = receiver.start(now)
    sender.start(now)
    to_receiver = b""
    for _ in range(steps):
        if receiver.done and sender.done:
            break
        now += 0.1
        s_step = sender.feed(mangle("r2s", to_sender), now) if to_sender else sender.tick(now)
        events += s_step.events
        r_step = receiver.feed(mangle("s2r", s_step.out), now) if s_step.out else receiver.tick(now)
        events += r_step.events
        to_sender = r_step.out
    return events


def received(events: list) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    current = None
    chunks: list[bytes] = []
    for event in events:
        if isinstance(event, FileStarted):
            current, chunks = event.name, []
        elif isinstance(event, FileData):
            chunks.append(event.data)
        elif isinstance(event, FileDone):
            assert event.name == current
            files[event.name] = b"".join(chunks)
    return files


@pytest.mark.parametrize("block_size", [128, 1024])
def test_batch_arrives_whole_with_exact_sizes(block_size: int) -> None:
    files = [OutgoingFile("a.db", os.urandom(5000)), OutgoingFile("empty.txt", b""),
             OutgoingFile("tail.wav", os.urandom(1024 + 129)), OutgoingFile("pad.toml", b"\x1a" * 300)]
    events = run_pair(Sender(files, block_size=block_size), Receiver(max_size=10**6))
    assert received(events) == {f.name: f.data for f in files}
    assert isinstance(events[-1], BatchDone) or any(isinstance(e, BatchDone) for e in events)
    assert not any(isinstance(e, Aborted) for e in events)
    assert [e.name for e in events if isinstance(e, FileSent)] == [f.name for f in files]


def test_damaged_blocks_are_sent_again_and_the_file_still_matches() -> None:
    data = os.urandom(20 * 1024)
    count = {"n": 0}

    def corrupt_every_third_block(direction: str, chunk: bytes) -> bytes:
        if direction == "s2r" and len(chunk) > 100:
            count["n"] += 1
            if count["n"] % 3 == 0:
                damaged = bytearray(chunk)
                damaged[len(chunk) // 2] ^= 0xFF
                return bytes(damaged)
        return chunk

    events = run_pair(Sender([OutgoingFile("big.db", data)]), Receiver(max_size=10**6), corrupt_every_third_block)
    assert received(events) == {"big.db": data}
    assert count["n"] > 20


def test_too_many_damaged_blocks_abort_without_a_finished_file() -> None:
    def always_corrupt(direction: str, chunk: bytes) -> bytes:
        return chunk[:-1] + bytes([chunk[-1] ^ 1]) if direction == "s2r" and len(chunk) > 100 else chunk

    events = run_pair(Sender([OutgoingFile("x.db", os.urandom(3000))]),
                      Receiver(max_size=10**6, timings=ReceiverTimings(retries=3)), always_corrupt)
    assert any(isinstance(e, Aborted) for e in events)
    assert not any(isinstance(e, FileDone) for e in events)


def test_receiver_refuses_oversized_file_and_cancels() -> None:
    events = run_pair(Sender([OutgoingFile("huge.db", bytes(5000))]), Receiver(max_size=4000))
    aborts = [e for e in events if isinstance(e, Aborted)]
    assert aborts and "at most 4000" in aborts[0].reason
    assert not any(isinstance(e, FileStarted) for e in events)


def test_sender_cancel_ends_the_receiver_without_a_file() -> None:
    receiver = Receiver(max_size=10**6)
    receiver.start(0.0)
    header = encode_block(0, encode_header(Header("a.db", 2000)))
    step = receiver.feed(header, 0.1)
    assert step.out == bytes([ACK, CRC_REQUEST])
    step = receiver.feed(encode_block(1, bytes(1024)), 0.2)
    assert step.out == bytes([ACK])
    step = receiver.feed(bytes([CAN, CAN]), 0.3)
    assert receiver.done and isinstance(step.events[-1], Aborted)
    assert not any(isinstance(e, FileDone) for e in step.events)


def test_noise_between_blocks_is_ignored_and_short_file_at_eot_aborts() -> None:
    receiver = Receiver(max_size=10**6)
    receiver.start(0.0)
    step = receiver.feed(b"\xff\x00garbage" + encode_block(0, encode_header(Header("a.db", 2000))), 0.1)
    assert isinstance(step.events[0], FileStarted)
    receiver.feed(encode_block(1, bytes(1024)), 0.2)
    assert receiver.feed(bytes([EOT]), 0.3).out == bytes([NAK])
    step = receiver.feed(bytes([EOT]), 0.4)
    assert receiver.done and isinstance(step.events[-1], Aborted) and "1024 of 2000" in step.events[-1].reason


def test_silent_sender_gets_naks_then_the_receiver_gives_up() -> None:
    receiver = Receiver(max_size=10**6, timings=ReceiverTimings(block_wait_s=1.0, retries=2))
    receiver.start(0.0)
    receiver.feed(encode_block(0, encode_header(Header("a.db", 2000))), 0.1)
    outs = [receiver.tick(t / 10).out for t in range(2, 60)]
    assert outs.count(bytes([NAK])) == 2
    assert receiver.done


def test_no_sender_at_all_times_out_with_repeated_c() -> None:
    receiver = Receiver(max_size=10, timings=ReceiverTimings(header_wait_s=10.0, request_every_s=3.0))
    assert receiver.start(0.0) == b"C"
    outs = [receiver.tick(float(t)).out for t in range(1, 12)]
    assert outs.count(b"C") == 3
    assert receiver.done


def test_a_repeated_block_is_acknowledged_but_not_written_twice() -> None:
    receiver = Receiver(max_size=10**6)
    receiver.start(0.0)
    receiver.feed(encode_block(0, encode_header(Header("a.db", 200))), 0.1)
    first = receiver.feed(encode_block(1, bytes([7]) * 128), 0.2)
    again = receiver.feed(encode_block(1, bytes([7]) * 128), 0.3)  # our ACK was lost; the sender repeats
    assert first.out == again.out == bytes([ACK])
    assert [e for e in again.events if isinstance(e, FileData)] == []
    receiver.feed(encode_block(2, bytes([8]) * 128), 0.4)
    receiver.feed(bytes([EOT]), 0.5)
    step = receiver.feed(bytes([EOT]), 0.6)
    assert step.events == [FileDone("a.db", 200)]


def test_a_lost_block_sequence_cancels() -> None:
    receiver = Receiver(max_size=10**6)
    receiver.start(0.0)
    receiver.feed(encode_block(0, encode_header(Header("a.db", 2000))), 0.1)
    step = receiver.feed(encode_block(3, bytes(128)), 0.2)
    assert receiver.done and step.out.startswith(bytes([CAN, CAN])) and "sequence lost" in step.events[0].reason


def test_a_flood_of_noise_is_skipped_quickly_and_the_header_still_found() -> None:
    import time as clock
    receiver = Receiver(max_size=10**6)
    receiver.start(0.0)
    noise = bytes(b for b in os.urandom(3_000_000) if b not in (0x01, 0x02, 0x04, 0x18))
    started = clock.process_time()
    step = receiver.feed(noise + encode_block(0, encode_header(Header("a.db", 10))), 0.1)
    assert clock.process_time() - started < 2.0  # linear, not a byte-by-byte shuffle of the buffer
    assert step.events == [FileStarted("a.db", 10)]


def test_a_long_name_goes_in_a_1k_header_block() -> None:
    name = "n" * 200 + ".db"
    assert len(encode_header(Header(name, 5))) == 1024
    events = run_pair(Sender([OutgoingFile(name, b"hello")]), Receiver(max_size=100))
    assert received(events) == {name: b"hello"}


def test_sender_finishes_when_the_closing_ack_is_lost() -> None:
    sender = Sender([OutgoingFile("a", b"x")], retry_s=1.0)
    sender.start(0.0)
    sender.feed(b"C", 0.1)
    sender.feed(bytes([ACK]) + b"C", 0.2)
    sender.feed(bytes([ACK]), 0.3)  # the block
    sender.feed(bytes([NAK]), 0.4)  # first EOT
    sender.feed(bytes([ACK]), 0.5)  # second EOT
    assert sender.feed(b"C", 0.6).out == encode_block(0, encode_header(Header("")))
    assert not sender.tick(1.5).events
    step = sender.tick(3.0)  # no ACK for the empty header
    assert sender.done and step.events == [BatchDone()]
