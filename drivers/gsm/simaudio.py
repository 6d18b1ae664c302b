"""The caller's side of the usb-pcm path of a simulated modem: the ear (which prompt starts, when the line falls
silent) and the mouth (the caller's keys as DTMF tones, optionally the box's own audio echoed back).

The driver streams each prompt from a 20 ms frame boundary, so the first voiced frame of every prompt is an exact
fingerprint. Pause prompts are digital silence and cannot be told apart from the gaps: they are not reported.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from drivers.line import PromptSource
from drivers.serialmodem.faraudio import FarAudio

log = logging.getLogger(__name__)

FRAME_BYTES = 320
SILENCE = bytes(FRAME_BYTES)
SILENT_FRAMES = 5  # 100 ms of silence after speech: the caller hears the box fall silent


class PcmMouth:
    """What the modem sends the box on the PCM port: one frame for every frame the box sends (the call has one
    clock), carrying the caller's keys as DTMF tone pairs over a faint noise floor and, with `echo`, the box's own
    audio looped back (a two-way audio check's far end)."""

    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self._far = FarAudio()
        self._at = 0  # samples sent since the path was switched on
        self._pending = bytearray()
        self._on = False

    def switch(self, on: bool) -> None:
        self._on = on
        self._pending.clear()
        self._far = FarAudio()
        self._at = 0

    def key(self, key: str) -> bool:
        """The caller presses `key` (from the next frame on); False when no audio path is on."""
        if self._on:
            self._far.key(key, self._at + FRAME_BYTES // 2)
        return self._on

    def answer(self, heard: bytes) -> bytes:
        """The frames to send back for what the box just sent."""
        if not self._on:
            return b""
        self._pending += heard
        whole = len(self._pending) - len(self._pending) % FRAME_BYTES
        if not whole:
            return b""
        box = bytes(self._pending[:whole])
        del self._pending[:whole]
        samples = self._far.render(self._at, whole // 2)
        self._at += whole // 2
        if self.echo:
            samples += np.frombuffer(box, dtype="<i2")
        return bytes(np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes())


class PcmEar:
    def __init__(self, prompts: PromptSource | None, prompt_ids: Sequence[str],
                 started: Callable[[str], None], silent: Callable[[], None]) -> None:
        self._started = started
        self._silent = silent
        self._marks: dict[bytes, str] = {}
        for prompt_id in prompt_ids if prompts is not None else ():
            assert prompts is not None
            mark = _first_voiced_frame(prompts.audio(prompt_id, "s16le"))
            if mark is not None and self._marks.setdefault(mark, prompt_id) != prompt_id:
                log.warning("prompts %s and %s start alike: the simulator reports the first", self._marks[mark],
                            prompt_id)
        self._buffer = bytearray()
        self._on = False
        self._quiet = 0
        self._speaking = False
        self.frames = 0
        self.sound_frames = 0  # frames that were neither digital silence nor a prompt's start (a test tone …)

    def switch(self, on: bool) -> None:
        """The modem's PCM path was switched on or off: the stream starts again on a frame boundary."""
        self._on = on
        self._buffer.clear()
        self._quiet = 0
        if not on and self._speaking:
            self._speaking = False
            self._silent()

    def hear(self, data: bytes) -> None:
        if not self._on:
            return
        self._buffer += data
        while len(self._buffer) >= FRAME_BYTES:
            frame = bytes(self._buffer[:FRAME_BYTES])
            del self._buffer[:FRAME_BYTES]
            self.frames += 1
            self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        prompt_id = self._marks.get(frame)
        if prompt_id is not None:
            self._speaking, self._quiet = True, 0
            self._started(prompt_id)
        elif frame == SILENCE:
            self._quiet += 1
            if self._quiet == SILENT_FRAMES and self._speaking:
                self._speaking = False
                self._silent()
        else:
            self._quiet = 0
            if not self._speaking:
                self.sound_frames += 1


def _first_voiced_frame(pcm: bytes) -> bytes | None:
    for start in range(0, len(pcm), FRAME_BYTES):
        frame = pcm[start:start + FRAME_BYTES]
        frame += bytes(FRAME_BYTES - len(frame))
        if frame != SILENCE:
            return frame
    return None
