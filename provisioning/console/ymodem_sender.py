"""The YMODEM batch sender as a sans-I/O state machine (for tests and the `ymodem_send` tool).

It waits for the receiver's "C", sends block 0 with name and size, the file in 1024-byte blocks (128-byte ones for a
short tail, or all 128 with `block_size=128`), EOT until acknowledged, and after the last file an empty header.
A NAK or a silence of `retry_s` repeats the last thing sent; `retries` of them in a row, or the receiver's CAN, end
the batch with `Aborted`.
"""
from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from .ymodem import (ACK, CAN, CANCEL, CRC_REQUEST, EOT, NAK, PAD, Header, YmodemError, encode_block,
                     encode_header)
from .ymodem_receiver import Aborted, BatchDone, Step


@dataclass(frozen=True)
class OutgoingFile:
    name: str
    data: bytes
    mtime: int | None = None


@dataclass(frozen=True)
class Progress:
    name: str
    sent: int
    size: int


@dataclass(frozen=True)
class FileSent:
    name: str
    size: int


END_WAIT_S = 2.0  # for the ACK of the closing empty header


class _State(enum.Enum):
    WAIT_C = "wait C for header"
    HEADER_ACK = "wait header ACK"
    WAIT_C_DATA = "wait C for data"
    BLOCK_ACK = "wait block ACK"
    EOT_ACK = "wait EOT ACK"
    END_ACK = "wait end ACK"
    DONE = "done"


class Sender:
    """One batch of files. Feed it what the receiver sends; tick it when reads time out."""

    def __init__(self, files: Sequence[OutgoingFile], *, block_size: int = 1024, retry_s: float = 10.0,
                 retries: int = 10) -> None:
        if block_size not in (128, 1024):
            raise YmodemError(f"block size is 128 or 1024, not {block_size}")
        self._files = list(files)
        self._block_size = block_size
        self._retry_s = retry_s
        self._retries = retries
        self._state = _State.WAIT_C
        self._index = 0
        self._offset = 0  # bytes of the current file already acknowledged
        self._number = 0
        self._last = b""
        self._last_at = 0.0
        self._misses = 0
        self._cans = 0
        self._started = False

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def start(self, now: float) -> bytes:
        self._last_at = now
        self._started = True
        return b""

    def cancel(self, reason: str) -> Step:
        if self.done:
            return Step()
        self._state = _State.DONE
        return Step(CANCEL, [Aborted(reason)])

    def feed(self, data: bytes, now: float) -> Step:
        step = Step()
        for byte in data:
            if self.done:
                break
            self._byte(byte, step, now)
        return step

    def tick(self, now: float) -> Step:
        if self.done:
            return Step()
        if self._state is _State.HEADER_ACK and self._index >= len(self._files) and now - self._last_at >= END_WAIT_S:
            # Every file's EOT was acknowledged; lrzsz's rb may flush its ACK of the closing empty header away
            # as it restores the tty and exits. Nothing is lost: the batch is done.
            self._state = _State.DONE
            return Step(events=[BatchDone()])
        if now - self._last_at < self._retry_s:
            return Step()
        if self._state in (_State.WAIT_C, _State.WAIT_C_DATA):
            limit = self._retries * 6 if self._state is _State.WAIT_C and self._index == 0 else self._retries
            self._misses += 1
            self._last_at = now
            if self._misses > limit:
                return self.cancel("the receiver never asked for the file (no 'C')")
            return Step()
        return self._repeat(now, "the receiver stopped answering")

    # -- inside ----------------------------------------------------------------------------------------------------
    def _byte(self, byte: int, step: Step, now: float) -> None:
        if byte == CAN:
            self._cans += 1
            if self._cans >= 2:
                self._state = _State.DONE
                step.events.append(Aborted("the receiver cancelled the transfer"))
            return
        self._cans = 0
        state = self._state
        if byte == CRC_REQUEST and state is _State.WAIT_C:
            self._send_header(step, now)
        elif byte == ACK and state is _State.HEADER_ACK:
            if self._index >= len(self._files):
                self._state = _State.DONE
                step.events.append(BatchDone())
            else:
                self._state = _State.WAIT_C_DATA
        elif byte == CRC_REQUEST and state is _State.HEADER_ACK:
            self._emit(step, self._last, now)  # the header did not arrive
        elif byte == CRC_REQUEST and state is _State.WAIT_C_DATA:
            self._send_block(step, now)
        elif byte == ACK and state is _State.BLOCK_ACK:
            self._offset = min(self._offset + self._chunk_size(), len(self._current.data))
            step.events.append(Progress(self._current.name, self._offset, len(self._current.data)))
            self._send_block(step, now)
        elif byte == ACK and state is _State.EOT_ACK:
            step.events.append(FileSent(self._current.name, len(self._current.data)))
            self._index += 1
            self._state = _State.WAIT_C
            self._misses = 0
        elif byte == NAK and state in (_State.HEADER_ACK, _State.BLOCK_ACK, _State.EOT_ACK, _State.END_ACK):
            done = self._repeat(now, "too many NAKs from the receiver")
            step.out += done.out
            step.events += done.events

    @property
    def _current(self) -> OutgoingFile:
        return self._files[self._index]

    def _chunk_size(self) -> int:
        remaining = len(self._current.data) - self._offset
        return 1024 if self._block_size == 1024 and remaining > 128 else 128

    def _send_header(self, step: Step, now: float) -> None:
        if self._index >= len(self._files):
            header = Header("")
        else:
            f = self._current
            header = Header(f.name, len(f.data), f.mtime)
        self._offset, self._number, self._misses = 0, 0, 0
        self._state = _State.HEADER_ACK
        self._emit(step, encode_block(0, encode_header(header)), now)

    def _send_block(self, step: Step, now: float) -> None:
        data = self._current.data
        if self._offset >= len(data):
            self._state = _State.EOT_ACK
            self._emit(step, bytes([EOT]), now)
            return
        size = self._chunk_size()
        chunk = data[self._offset:self._offset + size].ljust(size, bytes([PAD]))
        self._number += 1
        self._state = _State.BLOCK_ACK
        self._misses = 0
        self._emit(step, encode_block(self._number, chunk), now)

    def _emit(self, step: Step, frame: bytes, now: float) -> None:
        self._last, self._last_at = frame, now
        step.out += frame

    def _repeat(self, now: float, why: str) -> Step:
        self._misses += 1
        if self._misses > self._retries:
            return self.cancel(why)
        self._last_at = now
        return Step(self._last)
