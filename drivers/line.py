"""The vocabulary every line driver speaks: what a call tells us, and what we ask of the line.

A driver (GSM modem, V.253 voice modem, SIP, the simulator) turns its medium into these four events and
carries out the requests of `Line`. Nothing here knows about BHXH.

Threading contract: a driver with threads of its own (a serial reader, pjsua2's thread) never calls the sink from
them; it hands each event to `post` (the daemon's `loop.call_soon_threadsafe`), so the call flow only ever runs
on the daemon's loop thread. Requests (`answer`, `play`, …) arrive on that thread and must not block it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

#: What a line says about itself (`Reporting.report()["state"]`): coming up, serving, climbing its own recovery
#: ladder, given up (it will not come back without help: the daemon's supervisor restarts it), closed.
LINE_STATES = ("starting", "up", "recovering", "down", "stopped")

#: Keys a caller can press on a DTMF keypad.
KEYS = frozenset("0123456789*#ABCD")


@dataclass(frozen=True)
class IncomingCall:
    """A call is ringing. `caller` is the presented number as the line saw it, None when withheld."""

    call_id: str
    caller: str | None


@dataclass(frozen=True)
class KeyPressed:
    """One key press, reported once whatever the signalling (URC, RFC 4733, SIP INFO, in-band)."""

    call_id: str
    key: str


@dataclass(frozen=True)
class PlaybackFinished:
    """Every prompt of the playback started with `token` has been heard to the end."""

    call_id: str
    token: int


@dataclass(frozen=True)
class RemoteHangup:
    """The far end hung up (or the line dropped the call)."""

    call_id: str


LineEvent = IncomingCall | KeyPressed | PlaybackFinished | RemoteHangup
EventSink = Callable[[LineEvent], None]
#: runs a callable on the daemon's loop thread (e.g. `loop.call_soon_threadsafe`)
Post = Callable[[Callable[[], None]], object]


class PromptSource(Protocol):
    """Where a driver finds the audio for a prompt id (the voice_prompts catalog satisfies it)."""

    def path(self, prompt_id: str) -> Path: ...

    def duration(self, prompt_id: str) -> float: ...

    def audio(self, prompt_id: str, fmt: str) -> bytes:
        """The prompt in the line's own format: "wav", "s16le", "u8", "ulaw", "alaw" or "amr"."""


class Line(Protocol):
    """What the call flow's runner asks of a line. Calls are named by the driver's `call_id`."""

    name: str

    def attach(self, sink: EventSink) -> None:
        """Where the line delivers its events (on the daemon's loop thread)."""

    def start(self) -> None:
        """Bring the line up in the background (open ports, start threads); returns at once."""

    def close(self) -> None:
        """Hang up what is up, stop every thread with a bounded join, release the port."""

    def answer(self, call_id: str) -> None: ...

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        """Queue the prompts back to back; report `PlaybackFinished(token)` when the last one ends."""

    def stop_playback(self, call_id: str) -> None:
        """Stop at once and drop the queue; no `PlaybackFinished` follows for the stopped playback."""

    def hang_up(self, call_id: str) -> None: ...


@runtime_checkable
class Reporting(Protocol):
    """A line that can say how it is (the modem drivers do): `report()` returns at least `state` (one of
    LINE_STATES), `last_error` (str or None) and `faults` (a list of str). Read from the daemon's loop thread: it
    must not block. A line without it counts as up once `start()` has returned."""

    def report(self) -> dict[str, Any]: ...
