"""The simulated line's audio: what the caller's side sends (keys as DTMF tones, the exchange's busy tone after
the caller hangs up, a faint noise floor, optionally the box's own echo) and what the caller hears.

The caller's ear: the driver starts every prompt on a 20 ms frame boundary of the stream it writes, so the first
voiced frame of each prompt, in the session's sample format, is an exact fingerprint; a marker is set where it
enters the modem's buffer and the prompt counts as heard when playback reaches it. Pause prompts are digital
silence and cannot be told from the gaps: they are not reported.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from drivers.serialmodem.faraudio import KEY_S, RATE, FarAudio, Floats
from drivers.line import PromptSource

from .samples import SILENCE, WIDTH

log = logging.getLogger(__name__)

FRAME = 160  # samples
SILENT_FRAMES = 5  # 100 ms of silence after speech: the caller hears the box fall silent


class PromptEar:
    """The modem's playback buffer as the caller hears it: markers where prompts start, silence after speech."""

    def __init__(self, prompts: PromptSource | None, prompt_ids: Sequence[str],
                 started: Callable[[str], None], silent: Callable[[], None]) -> None:
        self._prompts = prompts
        self._ids = tuple(prompt_ids)
        self._started = started
        self._silent = silent
        self._marks: dict[str, dict[bytes, str]] = {}
        self._fmt = "u8"
        self._frame = FRAME
        self._buffer = bytearray()
        self._pending = bytearray()  # the host's current frame, on its grid
        self._appended = 0
        self._consumed = 0
        self._markers: deque[tuple[int, str]] = deque()
        self._speaking = False
        self._quiet = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def fed(self) -> bool:
        """The host has written audio in this transmit state."""
        return self._appended > 0

    def begin(self, fmt: str) -> None:
        """A transmit state opened: the host's frame grid starts at zero."""
        self._fmt, self._frame = fmt, FRAME * WIDTH[fmt]
        self._buffer.clear()
        self._pending.clear()
        self._markers.clear()
        self._appended = self._consumed = 0
        self._quiet = 0

    def feed(self, data: bytes) -> None:
        """De-stuffed audio from the host, into the buffer."""
        marks = self._marks_for(self._fmt)
        pos = 0
        while pos < len(data):
            take = data[pos:pos + self._frame - len(self._pending)]
            self._pending += take
            pos += len(take)
            if len(self._pending) == self._frame:
                prompt_id = marks.get(bytes(self._pending))
                if prompt_id is not None:
                    self._markers.append((self._appended + pos - self._frame, prompt_id))
                self._pending.clear()
        self._buffer += data
        self._appended += len(data)

    def play(self, count: int) -> bytes:
        """The next `count` bytes leave the buffer for the line (fewer on an underrun)."""
        out = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._consumed += len(out)
        while self._markers and self._markers[0][0] < self._consumed:
            self._speaking, self._quiet = True, 0
            self._started(self._markers.popleft()[1])
        silence = SILENCE[self._fmt]
        if len(out) < count or out.count(silence[0]) == len(out):
            self._quiet += count
            if self._speaking and self._quiet >= SILENT_FRAMES * self._frame:
                self._speaking = False
                self._silent()
        else:
            self._quiet = 0
            self._speaking = True
        return out

    def clear(self) -> None:
        """<DLE><CAN>: the buffer is dropped (the host's grid goes on)."""
        self._buffer.clear()
        self._consumed = self._appended
        self._markers.clear()

    def end(self) -> None:
        """The transmit state closed."""
        self._buffer.clear()
        self._markers.clear()
        if self._speaking:
            self._speaking = False
            self._silent()

    def prepare(self, fmt: str) -> None:
        """Fingerprint the prompts in `fmt` now (AT+VSM chose it), not when the first prompt plays."""
        self._marks_for(fmt)

    def _marks_for(self, fmt: str) -> dict[bytes, str]:
        marks = self._marks.get(fmt)
        if marks is None:
            marks = {}
            frame = FRAME * WIDTH[fmt]
            silent_frame = SILENCE[fmt] * FRAME
            for prompt_id in self._ids if self._prompts is not None else ():
                assert self._prompts is not None
                audio = self._prompts.audio(prompt_id, fmt)
                for start in range(0, len(audio), frame):
                    chunk = audio[start:start + frame]
                    chunk += silent_frame[: frame - len(chunk)]
                    if chunk != silent_frame:
                        if marks.setdefault(chunk, prompt_id) != prompt_id:
                            log.warning("prompts %s and %s start alike: the simulator reports the first",
                                        marks[chunk], prompt_id)
                        break
            self._marks[fmt] = marks
        return marks
