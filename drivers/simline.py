"""A telephone line in software, for the demo, the field's dry runs and the tests.

The box side is a real `Line`; the far side is a caller (scripted or a person at a terminal) who rings, presses
keys and hangs up, and who is told what the box says and when it falls silent. Playback takes exactly as long as
the prompt audio files, on whatever scheduler drives it (simulated or real time).
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from . import DriverError
from .clock import Scheduler, TimerHandle
from .line import KEYS, EventSink, IncomingCall, KeyPressed, LineEvent, PlaybackFinished, PromptSource, RemoteHangup

log = logging.getLogger(__name__)

#: seconds from answering to the first audio the caller can hear (media set-up on a real line)
ANSWER_DELAY_S = 0.5


class FarEnd(Protocol):
    """What the simulated caller is told about the call."""

    def prompt_started(self, prompt_id: str) -> None: ...

    def silent(self) -> None: ...

    def box_hung_up(self) -> None: ...


class SimulatedLine:
    """One simulated line carrying at most one call at a time."""

    def __init__(self, name: str, scheduler: Scheduler, prompts: PromptSource) -> None:
        self.name = name
        self._scheduler = scheduler
        self._prompts = prompts
        self._sink: EventSink | None = None
        self._far: FarEnd | None = None
        self._call_id: str | None = None
        self._calls = 0
        self._media_at: float | None = None  # when audio can flow (answer + set-up)
        self._handles: list[TimerHandle] = []
        self.playing = False

    # -- wiring ----------------------------------------------------------------------------------------------------
    def attach(self, sink: EventSink) -> None:
        """Where the box receives this line's events."""
        self._sink = sink

    def start(self) -> None:
        """Nothing to bring up: the far end is in this process."""

    def close(self) -> None:
        if self._call_id is not None:
            self.hang_up(self._call_id)

    # -- the far end (the caller) ----------------------------------------------------------------------------------
    def ring(self, caller: str | None, far_end: FarEnd) -> str:
        if self._call_id is not None:
            raise DriverError(f"line {self.name} is busy")
        self._calls += 1
        self._call_id = f"{self.name}-{self._calls}"
        self._far = far_end
        self._emit(IncomingCall(self._call_id, caller))
        return self._call_id

    def press(self, key: str) -> None:
        if key not in KEYS:
            raise DriverError(f"not a keypad key: {key!r}")
        if self._call_id is not None:
            self._emit(KeyPressed(self._call_id, key))

    def caller_hangs_up(self) -> None:
        if self._call_id is not None:
            call_id = self._call_id
            self._drop()
            self._emit(RemoteHangup(call_id))

    # -- the box side (Line) ---------------------------------------------------------------------------------------
    def answer(self, call_id: str) -> None:
        self._require(call_id)
        self._media_at = self._scheduler.now() + ANSWER_DELAY_S

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        self._require(call_id)
        self._stop()
        start = max(self._scheduler.now(), self._media_at if self._media_at is not None else 0.0)
        for prompt_id in prompt_ids:
            self._handles.append(self._at(start, functools.partial(self._started, prompt_id)))
            start += self._prompts.duration(prompt_id)
        self._handles.append(self._at(start, lambda: self._finished(call_id, token)))
        self.playing = True

    def stop_playback(self, call_id: str) -> None:
        self._require(call_id)
        if self.playing:
            self._stop()
            self._tell_silent()

    def hang_up(self, call_id: str) -> None:
        self._require(call_id)
        far = self._far
        self._drop()
        if far is not None:
            far.box_hung_up()

    # -- inside ----------------------------------------------------------------------------------------------------
    def _at(self, when: float, callback: Callable[[], None]) -> TimerHandle:
        return self._scheduler.call_later(when - self._scheduler.now(), callback)

    def _started(self, prompt_id: str) -> None:
        if self._far is not None:
            self._far.prompt_started(prompt_id)

    def _finished(self, call_id: str, token: int) -> None:
        self._handles.clear()
        self.playing = False
        self._tell_silent()
        self._emit(PlaybackFinished(call_id, token))

    def _tell_silent(self) -> None:
        if self._far is not None:
            self._far.silent()

    def _stop(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        self.playing = False

    def _drop(self) -> None:
        self._stop()
        self._call_id = None
        self._far = None
        self._media_at = None

    def _require(self, call_id: str) -> None:
        if call_id != self._call_id:
            raise DriverError(f"line {self.name} has no call {call_id!r}")

    def _emit(self, event: LineEvent) -> None:
        if self._sink is None:
            raise DriverError(f"line {self.name} is not attached to the box")
        self._sink(event)

