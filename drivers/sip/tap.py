"""The in-band DTMF tap: a conference-bridge port that receives one call's audio for the software detector.

Threads: pjsua's `threadCnt = 0` and media on the SIP ioqueue bring the *network* side (RTP, RFC 4733) to the
worker's thread, but the conference bridge is clocked by the null audio device's own clock thread, so pjsua2
calls `onFrameReceived` there, every 20 ms for each tapped call (measured: never the worker's thread). The
callback therefore only copies the frame and appends it, with its arrival time, to a deque (append and popleft
are thread-safe); the worker's thread drains the deque and feeds the detector between two `libHandleEvents`.
The callback never calls pjsua2 and never lets an exception unwind into pjmedia.

Teardown is the worker's, on its thread: the call stops transmitting to the tap, then the last reference goes
(`AudioMediaPort`'s destructor removes the port from the bridge and, under the port's lock, cuts it off from
the callback, so a frame in flight finishes first).
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
        if AudioTap.copy is None:
            AudioTap.copy = _frame_copier()
        self._copy = AudioTap.copy

    def open(self, name: str) -> None:
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, RATE, 1, FRAME_MS * 1000, 16)
        self.createPort(name, fmt)

    def onFrameReceived(self, frame: Any) -> None:  # noqa: N802 — the bridge's clock thread: copy and queue only
        try:
            if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO:
                self.frames.append((time.monotonic(), self._copy(frame.buf)))
        except Exception:  # an exception must not unwind into pjmedia; the worker's thread reports the count
            self.failures += 1

    def drain(self) -> list[Frame]:
        """The frames received since the last call (the worker's thread: the only one that takes from the deque)."""
        frames = self.frames
        return [frames.popleft() for _ in range(len(frames))]
