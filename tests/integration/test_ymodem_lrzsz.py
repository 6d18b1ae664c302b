"""Our YMODEM against lrzsz over a pseudo-terminal cable: `sb` sends to our receiver, our sender sends to `rb`."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from provisioning.console.incoming import IncomingFiles, incoming_dir
from provisioning.console.ymodem_port import LinePortLost, pump
from provisioning.console.ymodem_receiver import Receiver, ReceiverTimings
from provisioning.console.ymodem_sender import OutgoingFile, Sender

from serial_cable import Cable

pytestmark = pytest.mark.skipif(not shutil.which("sb") or not shutil.which("rb"), reason="lrzsz is not installed")
FAST = ReceiverTimings(header_wait_s=15.0, block_wait_s=1.0, retries=2)


@pytest.fixture
def cable(tmp_path: Path) -> Iterator[Cable]:
    c = Cable(tmp_path / "ttyBOX")
    yield c
    c.close()


def open_box(cable: Cable) -> serial.Serial:
    return serial.serial_for_url(str(cable.box_path), baudrate=115200, timeout=0.05, exclusive=True)


def start_sb(cable: Cable, files: list[Path], *extra: str) -> subprocess.Popen[bytes]:
    """`sb -vv` as picocom's --send-cmd runs it; its progress goes to a file (a pipe would fill and stall it)."""
    log = open(files[0].parent / "sb.log", "wb")
    return subprocess.Popen(["sb", "-vv", *extra, *map(str, files)], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                            stderr=log, cwd=files[0].parent)


def receive(cable: Cable, state: Path, timings: ReceiverTimings = FAST) -> IncomingFiles:
    sink = IncomingFiles(incoming_dir(state), time.monotonic)
    port = open_box(cable)
    try:
        pump(port, Receiver(max_size=64 * 1024 * 1024, timings=timings), sink.handle)
    finally:
        sink.discard()
        port.close()
    return sink


def visible(state: Path) -> list[str]:
    return sorted(os.listdir(state / "incoming"))


@pytest.mark.parametrize("extra", [(), ("-k",)])
def test_sb_batch_lands_whole_in_incoming(cable: Cable, tmp_path: Path, extra: tuple[str, ...]) -> None:
    src = tmp_path / "laptop"
    src.mkdir()
    names = {"snapshot-0042.db": os.urandom(300_000), "welcome.wav": os.urandom(1500), "box.toml": b"[box]\n"}
    for name, data in names.items():
        (src / name).write_bytes(data)
    sb = start_sb(cable, [src / n for n in names], *extra)
    sink = receive(cable, tmp_path / "state")
    assert sb.wait(20) == 0, (src / "sb.log").read_text(errors="replace")[-500:]
    assert sink.failure is None
    assert visible(tmp_path / "state") == sorted(names)
    for name, data in names.items():
        assert (tmp_path / "state" / "incoming" / name).read_bytes() == data
        assert (tmp_path / "state" / "incoming" / name).stat().st_mode & 0o077 == 0


def test_one_corrupted_block_is_repeated_and_the_file_matches(cable: Cable, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    (tmp_path / "snap.db").write_bytes(data)
    hits = {"n": 0}

    def corrupt_once(direction: str, chunk: bytes) -> bytes:
        if direction == "to_box" and cable.to_box_bytes > 40_000 and hits["n"] == 0 and len(chunk) > 10:
            hits["n"] = 1
            damaged = bytearray(chunk)
            damaged[len(chunk) // 2] ^= 0x55
            return bytes(damaged)
        return chunk

    cable.tap = corrupt_once
    sb = start_sb(cable, [tmp_path / "snap.db"])
    sink = receive(cable, tmp_path / "state")
    assert sb.wait(20) == 0
    assert hits["n"] == 1 and sink.failure is None
    assert (tmp_path / "state" / "incoming" / "snap.db").read_bytes() == data


def test_line_that_keeps_corrupting_leaves_nothing(cable: Cable, tmp_path: Path) -> None:
    (tmp_path / "snap.db").write_bytes(os.urandom(100_000))

    def corrupt_after_20k(direction: str, chunk: bytes) -> bytes:
        if direction == "to_box" and cable.to_box_bytes > 20_000 and len(chunk) > 10:
            return chunk[:5] + bytes([chunk[5] ^ 0xFF]) + chunk[6:]
        return chunk

    cable.tap = corrupt_after_20k
    sb = start_sb(cable, [tmp_path / "snap.db"])
    sink = receive(cable, tmp_path / "state")
    sb.kill()
    sb.wait(10)
    assert sink.failure is not None
    assert visible(tmp_path / "state") == []


def test_sender_killed_mid_file_leaves_nothing(cable: Cable, tmp_path: Path) -> None:
    (tmp_path / "snap.db").write_bytes(os.urandom(2_000_000))
    sb = start_sb(cable, [tmp_path / "snap.db"])

    def kill_at_half(direction: str, chunk: bytes) -> bytes:
        if direction == "to_box" and cable.to_box_bytes > 500_000 and sb.poll() is None:
            sb.send_signal(signal.SIGKILL)
            return b""
        return chunk

    cable.tap = kill_at_half
    sink = receive(cable, tmp_path / "state")
    sb.wait(10)
    assert sink.failure is not None and "silent" in sink.failure
    assert visible(tmp_path / "state") == []


def test_cable_pulled_mid_file_leaves_nothing(cable: Cable, tmp_path: Path) -> None:
    (tmp_path / "snap.db").write_bytes(os.urandom(2_000_000))
    sb = start_sb(cable, [tmp_path / "snap.db"])

    def pull_at_half(direction: str, chunk: bytes) -> bytes:
        if direction == "to_box" and cable.to_box_bytes > 500_000:
            cable.tap = lambda d, c: c
            cable.unplug()
            return b""
        return chunk

    cable.tap = pull_at_half
    with pytest.raises(LinePortLost):
        receive(cable, tmp_path / "state")
    sb.kill()
    sb.wait(10)
    assert visible(tmp_path / "state") == []


@pytest.mark.parametrize("block_size", [128, 1024])
def test_our_sender_to_rb(cable: Cable, tmp_path: Path, block_size: int) -> None:
    dest = tmp_path / "laptop"
    dest.mkdir()
    files = [OutgoingFile("a.db", os.urandom(70_000)), OutgoingFile("b.txt", b"hello\n"),
             OutgoingFile("c.bin", os.urandom(1024 * 3))]
    rb = subprocess.Popen(["rb", "-vv"], stdin=cable.laptop_fd, stdout=cable.laptop_fd,
                          stderr=open(tmp_path / "rb.log", "wb"), cwd=dest)
    port = open_box(cable)
    events: list[object] = []
    try:
        pump(port, Sender(files, block_size=block_size), lambda e: events.append(e) or None)
    finally:
        port.close()
    assert rb.wait(20) == 0, (tmp_path / "rb.log").read_text(errors="replace")[-500:]
    for f in files:
        assert (dest / f.name).read_bytes() == f.data
    assert not any(type(e).__name__ == "Aborted" for e in events)


def test_send_tool_reports_progress_and_rb_gets_the_file(cable: Cable, tmp_path: Path) -> None:
    from provisioning.console.ymodem_send import send_files
    dest = tmp_path / "laptop"
    dest.mkdir()
    src = tmp_path / "big.db"
    src.write_bytes(os.urandom(400_000))
    rb = subprocess.Popen(["rb"], stdin=cable.laptop_fd, stdout=cable.laptop_fd, stderr=subprocess.DEVNULL, cwd=dest)
    port = open_box(cable)
    lines: list[str] = []
    try:
        assert send_files(port, [src], say=lines.append) is None
    finally:
        port.close()
    assert rb.wait(20) == 0
    assert (dest / "big.db").read_bytes() == src.read_bytes()
    assert any("big.db:  10%" in line or "big.db:  1" in line for line in lines) and "100%" in lines[-2]
    assert lines[-1] == "big.db: sent"
