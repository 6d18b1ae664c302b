"""The in-band DTMF tap: a conference-bridge port that receives one call's audio for the software detector.

Threads: pjsua's `threadCnt = 0` and media on the SIP ioqueue bring the *network* side (RTP, RFC 4733) to the
worker's thread, but the conference bridge is clocked by the null audio device's own clock thread, so pjsua2
calls `onFrameReceived` there, every 20 ms for each tapped call (measured: never the worker's thread). The
callback therefore only copies the frame and appends it, with its arrival time, to a deque (append and popleft
are thread-safe); the worker's thread drains the deque and feeds the detector between two `libHandleEvents`.
The callback never calls pjsua2 and never lets an exception unwind into pjmedia.

Teardown: a tap is never destroyed while the bridge runs. pjsua2's port destructor removes the port from the
bridge with the GIL released, so the bridge's clock thread could still call `onFrameReceived` on a Python object
that is being freed; with taps destroyed at every call's end (20 of them within a second when 20 calls end
together) that was a use-after-free waiting to happen, and a worker did die in the 20-call in-band test. So a
worker keeps its taps in a `TapPool`: at a call's end the call stops transmitting to its tap and the tap goes
back to the pool (`active` off: a frame in flight is dropped); the next call takes it again. The pool holds
at most as many taps as the worker has had in-band calls at once, and the worker destroys them at its own
teardown after the bridge's clock has been stopped (`AudDevManager.setNoDev`).
"""
from __future__ import annotations

import ctypes
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import pjsua2 as pj

log = logging.getLogger(__name__)

RATE = 8000
FRAME_MS = 20
#: frames kept for the worker's thread (it drains every 10 ms): 5 s; beyond that it is stuck and the oldest go
MAX_QUEUED = 250
Frame = tuple[float, bytes]
_VECTOR_HEAD = ctypes.c_size_t * 2  # a std::vector starts with its begin and end pointers (libstdc++, libc++)


def _copy_generic(buf: Any) -> bytes:
    return bytes(buf)


def _copy_direct(buf: Any) -> bytes:
    begin, end = _VECTOR_HEAD.from_address(int(buf.this))
    return ctypes.string_at(begin, end - begin) if end > begin else b""


def _frame_copier() -> Callable[[Any], bytes]:
    """How to copy a frame's ByteVector. SWIG's generic path walks it element by element: about 300 µs a 20 ms
    frame here (15 ms of CPU per call-second, more than the detector itself), so the vector's buffer is read
    directly (~2 µs) once a probe shows that the layout is the expected one; otherwise the generic path is used."""
    probe = bytes(range(256)) + bytes(64)
    vector = pj.ByteVector(probe)
    try:
        begin, end = _VECTOR_HEAD.from_address(int(vector.this))
        if end - begin == len(probe) and _copy_direct(vector) == probe:
            return _copy_direct
    except (TypeError, ValueError, OverflowError):
        pass
    log.warning("in-band DTMF: pjsua2's ByteVector has an unexpected layout; copying frames the slow way")
    return _copy_generic


class AudioTap(pj.AudioMediaPort):  # type: ignore[misc]
    """A sink on the bridge for one call's received audio: 8 kHz mono s16le in 20 ms frames, queued."""

    copy: Callable[[Any], bytes] | None = None  # chosen once per process, on the worker's thread

    def __init__(self) -> None:
        super().__init__()
        self.frames: deque[Frame] = deque(maxlen=MAX_QUEUED)
        self.failures = 0
        self.active = False  # queue frames only while a call owns the tap
        if AudioTap.copy is None:
            AudioTap.copy = _frame_copier()
        self._copy = AudioTap.copy

    def open(self, name: str) -> None:
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, FRAME_MS * 1000, 16)
        self.createPort(name, fmt)

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 — the bridge's clock thread: copy and queue only
        try:
            if self.active and frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
                self.frames.append((time.monotonic(), self._copy(frame.buf)))
        except Exception:  # an exception must not unwind into pjmedia; the worker's thread reports the count
            self.failures += 1

    def drain(self) -> list[Frame]:
        """The frames received since the last call (the worker's thread: the only one that takes from the deque)."""
        frames = self.frames
        return [frames.popleft() for _ in range(len(frames))]


class TapPool:
    """A worker's taps: lent to one call at a time, destroyed only by `close` (the bridge's clock stopped)."""

    def __init__(self) -> None:
        self._idle: list[AudioTap] = []
        self._count = 0

    def take(self) -> AudioTap:
        """An idle tap (a new one when none is), active and empty. Raises pj.Error if a new port fails."""
        if self._idle:
            tap = self._idle.pop()
        else:
            tap = AudioTap()
            tap.open(f"tap-{self._count}")
            self._count += 1
        tap.frames.clear()
        tap.failures = 0
        tap.active = True
        return tap

    def give_back(self, tap: AudioTap) -> None:
        """A tap whose call no longer transmits to it."""
        tap.active = False
        tap.frames.clear()
        self._idle.append(tap)

    @property
    def size(self) -> int:
        return self._count

    def close(self) -> None:
        """Destroy every tap (all given back): only once nothing clocks the bridge any more."""
        self._idle.clear()
        self._count = 0
