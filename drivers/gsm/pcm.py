"""The usb-pcm audio path: the call's audio as raw 8 kHz 16-bit PCM on the modem's audio port (EC25 `AT+QPCMV=1,0`
on the NMEA port, SIM7600 `AT+CPCMREG=1` on interface 4).

One thread per connected call writes a 20 ms frame (320 bytes) every `frame_s`, the prompts' samples while a list
plays and digital silence otherwise, and reads what the modem sends: `on_audio` is where our in-band DTMF
receiver listens (set by the call desk for each call; keys are counted once with the modem's reports).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import serial

from .transport import open_port

log = logging.getLogger(__name__)

FRAME_BYTES = 320  # 20 ms of 8 kHz s16le
SILENCE = bytes(FRAME_BYTES)
JOIN_S = 2.0


class PcmStream:
    def __init__(
        self,
        name: str,
        url: str,
        finished: Callable[[str, int], None],
        *,
        frame_s: float = 0.02,
        on_audio: Callable[[bytes], None] | None = None,
    ) -> None:
        self._name = name
        self._url = url
        self._finished = finished
        self._frame_s = frame_s
        self.on_audio = on_audio  # received call audio (s16le) on the PCM thread
        self._lock = threading.Lock()
        self._frames: deque[bytes] = deque()
        self._playing: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._port: serial.SerialBase | None = None
        self.frames_written = 0

    @property
    def is_open(self) -> bool:
        return self._thread is not None

    def open(self) -> None:
        """Open the audio port and start streaming (the call is connected, the modem's PCM is on)."""
        if self._thread is not None:
            return
        self._port = open_port(self._url, 115200, timeout=0)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"pcm-{self._name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.stop()
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(JOIN_S)
            if thread.is_alive():
                log.error("%s: PCM thread did not stop within %.0f s", self._name, JOIN_S)
        port, self._port = self._port, None
        if port is not None:
            port.close()

    def play(self, call_id: str, items: list[tuple[str, bytes]], token: int) -> None:
        frames: deque[bytes] = deque()
        for _, pcm in items:
            padded = pcm + bytes(-len(pcm) % FRAME_BYTES)  # each prompt starts on a frame boundary
            frames.extend(padded[i:i + FRAME_BYTES] for i in range(0, len(padded), FRAME_BYTES))
        with self._lock:
            self._frames = frames
            self._playing = (call_id, token)

    def stop(self) -> None:
        with self._lock:
            self._frames = deque()
            self._playing = None

    # -- the stream thread -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._stream()
        except (serial.SerialException, OSError) as exc:
            log.error("%s: audio port %s failed: %s", self._name, self._url, exc)
        except Exception:  # a thread's top: log, the AT side will notice the modem's state
            log.exception("%s: PCM stream failed", self._name)

    def _stream(self) -> None:
        port = self._port
        assert port is not None
        due = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            if now < due:
                self._stop.wait(due - now)
                continue
            frame, done = self._next_frame()
            port.write(frame)
            self.frames_written += 1
            if done is not None:
                self._finished(*done)
            waiting = port.in_waiting
            if waiting:
                received = port.read(waiting)
                if self.on_audio is not None:
                    self.on_audio(received)
            due += self._frame_s
            if time.monotonic() - due > 0.2:  # fell behind (a busy box): resume the pace, no burst
                due = time.monotonic()

    def _next_frame(self) -> tuple[bytes, tuple[str, int] | None]:
        with self._lock:
            if not self._frames:
                return SILENCE, None
            frame = self._frames.popleft()
            done = None
            if not self._frames and self._playing is not None:
                done, self._playing = self._playing, None
            return frame, done
