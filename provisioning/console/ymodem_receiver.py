"""The YMODEM batch receiver as a sans-I/O state machine: bytes and the time in, bytes to send and events out.

It asks for CRC-16 blocks ("C"), accepts 128- and 1024-byte blocks, hands each file's bytes out trimmed to the size
its header announced, and reports a file complete only after the sender's EOT. A damaged block is answered, once the
line has gone quiet, with NAK; too many errors, a lost block sequence or the sender's CAN end the transfer with
`Aborted`. The caller owns the port, the clock and the files (see `ymodem_port` and `incoming`).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .ymodem import (ACK, CAN, CANCEL, CRC_REQUEST, EOT, NAK, OVERHEAD, PAYLOAD, SOH, STX, YmodemError,
                     decode_block, decode_header)


@dataclass(frozen=True)
class FileStarted:
    name: str
    size: int


@dataclass(frozen=True)
class FileData:
    data: bytes


@dataclass(frozen=True)
class FileDone:
    name: str
    size: int


@dataclass(frozen=True)
class BatchDone:
    """The sender's empty header: every file of the batch has arrived."""


@dataclass(frozen=True)
class Aborted:
    reason: str


Event = FileStarted | FileData | FileDone | BatchDone | Aborted


@dataclass
class Step:
    """What one call produced: bytes for the port and events for the caller."""

    out: bytes = b""
    events: list[object] = field(default_factory=list)  # the receiver's Event, or the sender's


@dataclass(frozen=True)
class ReceiverTimings:
    header_wait_s: float = 60.0  # time for the technician to start the send
    request_every_s: float = 3.0  # "C" repeated while waiting for a header
    block_wait_s: float = 10.0  # silence inside a file before a NAK
    quiet_s: float = 0.25  # line silence after a damaged block before the NAK
    retries: int = 10  # damaged blocks or silences in a row before giving up


class _State(enum.Enum):
    HEADER = "header"
    DATA = "data"
    DONE = "done"


class Receiver:
    """One batch. `start()` first, then `feed()` every read and `tick()` when reads time out."""

    def __init__(self, max_size: int, timings: ReceiverTimings = ReceiverTimings()) -> None:
        self._max_size = max_size
        self._t = timings
        self._state = _State.HEADER
        self._buf = bytearray()
        self._purging = False
        self._errors = 0
        self._expected = 1
        self._eots = 0
        self._name = ""
        self._size = 0
        self._received = 0
        self._files_done = 0
        self._started_at = 0.0
        self._last_rx = 0.0
        self._last_tx = 0.0

    @property
    def done(self) -> bool:
        return self._state is _State.DONE

    def start(self, now: float) -> bytes:
        self._started_at = self._last_rx = self._last_tx = now
        return bytes([CRC_REQUEST])

    def cancel(self, reason: str) -> Step:
        """Give up from our side (a refused name, a full disk, the console closing)."""
        if self.done:
            return Step()
        self._state = _State.DONE
        return Step(CANCEL, [Aborted(reason)])

    def feed(self, data: bytes, now: float) -> Step:
        if self.done or not data:
            return Step()
        self._last_rx = now
        if self._purging:
            return Step()
        self._buf += data
        step = Step()
        while self._buf and not self.done and not self._purging:
            if not self._next(step, now):
                break
        return self._sent(step, now)

    def tick(self, now: float) -> Step:
        if self.done:
            return Step()
        step = Step()
        if self._purging:
            if now - self._last_rx >= self._t.quiet_s:
                self._purging = False
                self._ask_again(step)
        elif self._state is _State.HEADER:
            limit = self._t.header_wait_s if self._files_done == 0 else self._t.block_wait_s * self._t.retries
            if now - self._started_at >= limit and not self._buf:
                return self.cancel("no YMODEM sender started; start the send in the terminal program first")
            if now - max(self._last_rx, self._last_tx) >= self._t.request_every_s:
                self._buf.clear()
                step.out += bytes([CRC_REQUEST])
        elif now - max(self._last_rx, self._last_tx) >= self._t.block_wait_s:
            self._buf.clear()
            self._errors += 1
            if self._errors > self._t.retries:
                return self.cancel(f"the sender went silent in {self._name!r} at {self._received} bytes")
            step.out += bytes([NAK])
        return self._sent(step, now)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _sent(self, step: Step, now: float) -> Step:
        if step.out:
            self._last_tx = now
        return step

    def _next(self, step: Step, now: float) -> bool:
        """Consume one unit from the buffer; False when it needs more bytes."""
        first = self._buf[0]
        if first in (SOH, STX):
            need = PAYLOAD[first] + OVERHEAD
            if len(self._buf) < need:
                return False
            frame = bytes(self._buf[:need])
            del self._buf[:need]
            decoded = decode_block(frame)
            if decoded is None:
                self._damaged(step, "damaged block")
            else:
                self._block(step, *decoded)
            return True
        if first == CAN:
            if len(self._buf) < 2:
                return False
            if self._buf[1] == CAN:
                self._state = _State.DONE
                step.events.append(Aborted("the sender cancelled the transfer"))
                return True
            del self._buf[:1]  # a lone CAN is noise
            return True
        elif first == EOT:
            del self._buf[:1]
            self._eot(step)
            return True
        self._skip_noise()
        return True

    def _skip_noise(self) -> None:
        """Drop line noise up to the next byte that could start something (one pass, not byte by byte)."""
        starts = [i for i in (self._buf.find(b, 1) for b in (SOH, STX, EOT, CAN)) if i > 0]
        del self._buf[:min(starts) if starts else len(self._buf)]

    def _damaged(self, step: Step, why: str) -> None:
        self._errors += 1
        if self._errors > self._t.retries:
            step.out += CANCEL
            self._state = _State.DONE
            step.events.append(Aborted(f"{why}s: {self._errors} in a row in {self._name or 'the header'!r}"))
            return
        self._buf.clear()
        self._purging = True  # NAK once the rest of the damaged block has passed (tick)

    def _ask_again(self, step: Step) -> None:
        step.out += bytes([NAK if self._state is _State.DATA else CRC_REQUEST])

    def _block(self, step: Step, number: int, payload: bytes) -> None:
        if self._state is _State.HEADER:
            if number == 0:
                self._header(step, payload)
            else:  # a repeat of the previous file's last block; our ACK was lost
                step.out += bytes([ACK])
            return
        if number == self._expected & 0xFF:
            self._errors = 0
            take = min(len(payload), self._size - self._received)
            if take > 0:
                self._received += take
                step.events.append(FileData(payload[:take]))
            self._expected += 1
            step.out += bytes([ACK])
        elif number == (self._expected - 1) & 0xFF:
            step.out += bytes([ACK, CRC_REQUEST] if self._expected == 1 else [ACK])  # a repeat: already have it
        else:
            step.out += CANCEL
            self._state = _State.DONE
            step.events.append(Aborted(f"block sequence lost in {self._name!r}: got {number}, "
                                       f"expected {self._expected & 0xFF}"))

    def _header(self, step: Step, payload: bytes) -> None:
        try:
            header = decode_header(payload)
        except YmodemError as exc:
            step.out += CANCEL
            self._state = _State.DONE
            step.events.append(Aborted(str(exc)))
            return
        self._errors = 0
        if not header.name:
            step.out += bytes([ACK])
            self._state = _State.DONE
            step.events.append(BatchDone())
            return
        if header.size is None:
            step.out += CANCEL
            self._state = _State.DONE
            step.events.append(Aborted(f"{header.name!r}: the sender did not give the file size; use sb (YMODEM)"))
            return
        if header.size > self._max_size:
            step.out += CANCEL
            self._state = _State.DONE
            step.events.append(Aborted(f"{header.name!r} is {header.size} bytes; at most {self._max_size} accepted"))
            return
        self._state = _State.DATA
        self._name, self._size, self._received = header.name, header.size, 0
        self._expected, self._eots = 1, 0
        step.events.append(FileStarted(header.name, header.size))
        step.out += bytes([ACK, CRC_REQUEST])

    def _eot(self, step: Step) -> None:
        if self._state is _State.HEADER:
            if self._files_done:
                step.out += bytes([ACK, CRC_REQUEST])  # our ACK of the last EOT was lost
            return
        self._eots += 1
        if self._eots == 1:
            step.out += bytes([NAK])  # the usual double EOT guards against a noise byte looking like one
            return
        if self._received != self._size:
            step.out += CANCEL
            self._state = _State.DONE
            step.events.append(Aborted(f"{self._name!r} ended at {self._received} of {self._size} bytes"))
            return
        self._files_done += 1
        self._state = _State.HEADER
        self._started_at = self._last_rx
        step.events.append(FileDone(self._name, self._size))
        step.out += bytes([ACK, CRC_REQUEST])
