"""Play lists into the call: back to back, `finished(call_id, token)` after the last prompt, nothing after a stop.

`FilePlayer` (audio = "modem-files"): the modem plays one stored file at a time and reports its end with a URC, so
the list is a queue here and the next file starts on that URC (password readings are many short unit files).
`PcmPlayer` (audio = "usb-pcm"): hands the list to the PCM stream, which paces 20 ms frames itself.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .engine import Command, Reply
from .pcm import PcmStream
from .profiles import Profile

log = logging.getLogger(__name__)

Submit = Callable[[Command, Callable[[Reply], None]], None]
Finished = Callable[[str, int], None]


class Player(Protocol):
    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None: ...

    def stop(self) -> None: ...

    def reset(self) -> None:
        """The call is over: forget everything, report nothing."""

    def ended(self) -> None:
        """The modem's end-of-playback URC arrived."""

    def poll(self) -> None: ...


@dataclass
class _List:
    call_id: str
    queue: deque[str]
    token: int


IDLE, STARTING, PLAYING, STOPPING = "idle", "starting", "playing", "stopping"


class FilePlayer:
    def __init__(
        self,
        profile: Profile,
        submit: Submit,
        finished: Finished,
        clock: Callable[[], float],
        *,
        settle_s: float,
        command_s: float,
        stored: Callable[[str], bool] = lambda prompt_id: True,
    ) -> None:
        self._profile = profile
        self._submit = submit
        self._finished = finished
        self._clock = clock
        self._settle_s = settle_s
        self._command_s = command_s
        self._stored = stored
        self._list: _List | None = None
        self.state = IDLE
        self._generation = 0
        self._early_end = False
        self._stop_answered = False
        self._stale_seen = False
        self._settle_until: float | None = None

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        if self.state in (STARTING, PLAYING):
            self._stop_current()
        self._list = _List(call_id, deque(prompt_ids), token)
        self._advance()

    def stop(self) -> None:
        self._list = None
        if self.state in (STARTING, PLAYING):
            self._stop_current()

    def reset(self) -> None:
        self._list = None
        self._generation += 1
        self.state = IDLE

    def ended(self) -> None:
        if self.state == PLAYING:
            self.state = IDLE
            self._advance()
        elif self.state == STARTING:
            self._early_end = True  # a very short file ended before its OK was read
        elif self.state == STOPPING:
            self._stale_seen = True
            self._settled()
        else:
            log.debug("end-of-playback URC with nothing playing ignored")

    def poll(self) -> None:
        if self.state == STOPPING and self._settle_until is not None and self._clock() >= self._settle_until:
            self.state = IDLE
            self._advance()

    # -- inside ----------------------------------------------------------------------------------------------------
    def _advance(self) -> None:
        while self.state == IDLE and self._list is not None:
            current = self._list
            if not current.queue:
                self._list = None
                self._finished(current.call_id, current.token)
                return
            prompt_id = current.queue.popleft()
            if not self._stored(prompt_id):
                log.error("prompt %s is not in the modem's file store: skipped", prompt_id)
                continue
            self._start(prompt_id)

    def _start(self, prompt_id: str) -> None:
        self._generation += 1
        generation = self._generation
        self.state = STARTING
        self._early_end = False
        text = self._profile.play.format(path=self._profile.store.path(prompt_id))
        self._submit(Command(text, self._command_s), lambda reply: self._play_answered(generation, prompt_id, reply))

    def _play_answered(self, generation: int, prompt_id: str, reply: Reply) -> None:
        if generation != self._generation or self.state != STARTING:
            return
        if reply.ok:
            self.state = IDLE if self._early_end else PLAYING
        else:
            if reply.status == "error":
                log.error("the modem refused to play %s (%s): skipped", prompt_id, reply.describe())
            self.state = IDLE
            if reply.status != "error":
                return  # timeout or abort: the line recovers the modem, the list goes with the call
        self._advance()

    def _stop_current(self) -> None:
        self._generation += 1
        generation = self._generation
        self.state = STOPPING
        self._stop_answered = False
        self._stale_seen = False
        self._settle_until = None
        self._submit(Command(self._profile.stop, self._command_s), lambda reply: self._stop_reply(generation))

    def _stop_reply(self, generation: int) -> None:
        if generation != self._generation or self.state != STOPPING:
            return
        self._stop_answered = True
        if self._profile.end_after_stop is False:
            self._stale_seen = True
        self._settle_until = self._clock() + self._settle_s
        self._settled()

    def _settled(self) -> None:
        if self._stop_answered and self._stale_seen:
            self.state = IDLE
            self._advance()


class PcmPlayer:
    """Prompts as raw 8 kHz s16le audio from `audio(prompt_id)`, streamed by `stream`."""

    def __init__(self, stream: PcmStream, audio: Callable[[str], bytes]) -> None:
        self._stream = stream
        self._audio = audio

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        self._stream.play(call_id, [(pid, self._audio(pid)) for pid in prompt_ids], token)

    def stop(self) -> None:
        self._stream.stop()

    def reset(self) -> None:
        self._stream.stop()

    def ended(self) -> None:
        log.debug("end-of-playback URC ignored on the PCM path")

    def poll(self) -> None:
        pass
