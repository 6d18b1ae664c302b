"""The call's audio between off-hook and on-hook: which data state the modem is in, and what goes into it.

Full duplex (`AT+VTR`, when the stick offers it): one data state for the whole call; we write prompts or
silence at the line rate and read the caller's audio all the time, so our detector hears keys during prompts.
Half duplex: `AT+VTX` for each play list (prompts back to back, ended by `<DLE><ETX>`; the modem's OK says it
has been heard), `AT+VRX` between lists (the caller's audio; `<DLE>!` ends it); keys during a prompt then come
from the modem's reports only. Barge-in drops the modem's buffer at once: `<DLE><CAN>` (inside VTR, or when a
new list replaces one) or the profile's stop sequence (`<DLE><CAN><DLE><ETX>`).

Runs on the line's thread; `poll()` writes what is due. Commands go through the engine, raw bytes (audio,
`<DLE><CAN>`, `<DLE><NUL>`) straight to the port.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from .codec import V253Codec, stuff
from .engine import Command, Reply
from .profiles import Profile
from .samples import RATE, WIDTH
from .timings import V253Timings
from .transmit import Transmitter

log = logging.getLogger(__name__)

COMMAND, OPENING, TX, RX, DUPLEX, CLOSING, CLOSED = "command", "opening", "tx", "rx", "duplex", "closing", "closed"
OPEN_COMMANDS = {TX: "AT+VTX", RX: "AT+VRX", DUPLEX: "AT+VTR"}
#: the modem ending a receive state by itself this often in one call is trouble, not a glitch
MAX_SELF_ENDS = 3


class VoicePath:
    def __init__(
        self,
        name: str,
        profile: Profile,
        fmt: str,
        duplex: bool,
        timings: V253Timings,
        *,
        submit: Callable[[Command, Callable[[Reply], None]], None],
        write: Callable[[bytes], None],
        codec: V253Codec,
        clock: Callable[[], float],
        finished: Callable[[int], None],
        trouble: Callable[[str], None],
        session_started: Callable[[str], None],
    ) -> None:
        self._name = name
        self._p = profile
        self._duplex = duplex
        self._t = timings
        self._submit = submit
        self._write = write
        self._codec = codec
        self._clock = clock
        self._finished = finished
        self._trouble = trouble
        self._session_started = session_started
        width = WIDTH[fmt]
        rate = RATE * width * timings.speed
        lead = max(timings.lead_s * RATE * width, timings.min_lead_wall_s * rate)
        self._tx = Transmitter(fmt, bytes_per_s=rate, lead_bytes=int(lead),
                               frame_bytes=int(round(timings.frame_s * RATE)) * width)
        self.state = COMMAND
        self._not_before = float("inf")  # until the line is off-hook
        self._queued: tuple[list[bytes], int] | None = None
        self._closing_token: int | None = None
        self._last_heard = 0.0
        self._next_refresh = 0.0
        self._self_ends = 0
        self._then: Callable[[], None] | None = None
        self.sessions = 0

    @property
    def playing(self) -> bool:
        """The box is speaking (or about to): the caller's silence means nothing now."""
        return self._queued is not None or self._tx.busy or self._closing_token is not None

    @property
    def receiving(self) -> bool:
        """The caller's audio is coming in."""
        return self.state in (RX, DUPLEX)

    def off_hook(self) -> None:
        """AT+VLS=1 was answered: the first data state opens after the line settles."""
        self._not_before = self._clock() + self._t.answer_settle_s

    # -- requests --------------------------------------------------------------------------------------------------
    def play(self, chunks: list[bytes], token: int) -> None:
        self._closing_token = None
        if self.state in (TX, DUPLEX):
            if self._tx.busy:
                self._clear()
            self._tx.load(chunks, token)
        else:
            self._queued = (chunks, token)

    def stop(self) -> None:
        self._queued = None
        self._closing_token = None
        if self.state == DUPLEX and self._tx.busy:
            self._clear()
        elif self.state == TX:
            self._tx.clear()
            self._end(TX, self._p.stop_play, "stop playback")

    def close(self, then: Callable[[], None]) -> None:
        """The call is over: end the data state, then `then()` (the hang-up commands), whatever state it was in:
        an AT command written into a data state would be taken for audio."""
        self._queued = None
        self._closing_token = None
        self._then = then
        state, self.state = self.state, CLOSED
        if state == TX:
            self._tx.clear()
            self._end(TX, self._p.stop_play, "stop playback", then=CLOSED)
        elif state in (RX, DUPLEX):
            self._end(state, self._exit_bytes(state), "end the voice stream", then=CLOSED)
        elif state not in (OPENING, CLOSING):
            self._closed()  # no data state open; one opening or closing calls `then` when it answers

    # -- the stream ------------------------------------------------------------------------------------------------
    def heard(self) -> None:
        """The modem sent something inside a data state (audio or an event)."""
        self._last_heard = self._clock()

    def stream_ended(self) -> None:
        """<DLE><ETX> from the modem."""
        if self.state in (RX, DUPLEX):
            self._self_ends += 1
            log.warning("%s: the modem ended the %s stream by itself", self._name, self.state)
            self.state = COMMAND
            if self._self_ends > MAX_SELF_ENDS:
                self._trouble(f"the modem ended the voice stream {self._self_ends} times in one call")

    def poll(self) -> None:
        now = self._clock()
        state = self.state
        if state == COMMAND and now >= self._not_before:
            self._open(DUPLEX if self._duplex else TX if self._queued is not None else RX)
        elif state == TX:
            self._write_audio(self._tx.take(now, fill=False))
            if self._tx.drained:  # all written (or stopped while AT+VTX opened): the modem plays the rest
                self._closing_token = self._tx.release()
                self._end(TX, self._p.end_play, "end of playback", timeout=self._t.lead_s / self._t.speed)
        elif state == DUPLEX:
            self._write_audio(self._tx.take(now, fill=True))
            token = self._tx.finished(now)
            if token is not None:
                self._finished(token)
            self._watch(now)
        elif state == RX:
            if self._queued is not None:
                self._end(RX, self._p.abort_receive, "stop listening")
            else:
                self._watch(now)
                if self._t.vit_s and now >= self._next_refresh:
                    self._next_refresh = now + self._t.nul_every_s
                    self._write(self._p.refresh)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _open(self, target: str) -> None:
        self.state = OPENING
        command = Command(OPEN_COMMANDS[target], self._t.connect_s, connect=True, receive=target != TX)
        self._submit(command, lambda reply: self._opened(target, reply))

    def _opened(self, target: str, reply: Reply) -> None:
        if self.state == CLOSED:
            if reply.status == "connect":  # the call ended while it opened: end it again at once
                self._end(target, self._exit_bytes(target) if target != TX else self._p.stop_play,
                          "end the voice stream", then=CLOSED)
            else:
                self._closed()
            return
        if reply.status != "connect":
            self.state = COMMAND
            if reply.status != "aborted":
                self._trouble(f"{reply.describe()}")
            return
        now = self._clock()
        self.state, self._last_heard, self._next_refresh = target, now, now
        self.sessions += 1
        self._tx.begin(now)
        if self._queued is not None and target in (TX, DUPLEX):
            chunks, token = self._queued
            self._queued = None
            self._tx.load(chunks, token)
        self._session_started(target)

    def _end(self, state: str, sequence: bytes, what: str, *, then: str = COMMAND, timeout: float = 0.0) -> None:
        if state in (RX, DUPLEX):
            self._codec.leave_audio()  # some sticks send no <DLE><ETX>: the audio tail becomes noise
        if then != CLOSED:
            self.state = CLOSING
        command = Command(what, self._t.connect_s + timeout, raw=sequence)
        self._submit(command, lambda reply: self._ended(reply, then))

    def _ended(self, reply: Reply, then: str) -> None:
        if then == CLOSED or self.state == CLOSED:
            self._closed()
            return
        self.state = COMMAND
        token, self._closing_token = self._closing_token, None
        if reply.status in ("timeout", "error"):
            self._trouble(f"{reply.describe()}")
        elif token is not None and reply.ok:
            self._finished(token)

    def _closed(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()

    def _clear(self) -> None:
        self._tx.clear()
        self._write(self._p.clear)

    def _exit_bytes(self, state: str) -> bytes:
        return self._p.clear + self._p.leave_duplex if state == DUPLEX else self._p.abort_receive

    def _write_audio(self, data: bytes) -> None:
        if data:
            self._write(stuff(data))

    def _watch(self, now: float) -> None:
        if now - self._last_heard > self._t.stream_idle_s:
            self._last_heard = now
            self._trouble(f"no audio from the modem for {self._t.stream_idle_s:g} s")
