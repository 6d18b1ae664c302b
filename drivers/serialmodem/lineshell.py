"""`LineShell`: the part of a modem line that faces the caller's loop — the Line protocol's requests, queued for
the line's thread (which alone talks to the modem) with the session woken, the bounded stop of that thread, and
line events handed back to the caller's loop."""
from __future__ import annotations

import functools
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import ClassVar, Protocol

from drivers.line import EventSink, LineEvent, Post


class Desk(Protocol):
    """What the line's thread does with a call (a driver's `CallDesk`)."""

    def answer(self, call_id: str) -> None: ...
    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None: ...
    def stop(self, call_id: str) -> None: ...
    def hang_up(self, call_id: str) -> None: ...


class Wakeable(Protocol):
    def wake(self) -> None: ...


class LineShell:
    """Mixed into a driver's line class, which sets these attributes in its constructor; `log` is its logger."""

    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    name: str
    _desk: Desk
    _session: Wakeable | None
    _requests: queue.SimpleQueue[Callable[[], None]]
    _thread: threading.Thread | None

    def answer(self, call_id: str) -> None:
        self._request(lambda: self._desk.answer(call_id))

    def play(self, call_id: str, prompt_ids: Sequence[str], token: int) -> None:
        ids = tuple(prompt_ids)
        self._request(lambda: self._desk.play(call_id, ids, token))

    def stop_playback(self, call_id: str) -> None:
        self._request(lambda: self._desk.stop(call_id))

    def hang_up(self, call_id: str) -> None:
        self._request(lambda: self._desk.hang_up(call_id))

    def _request(self, action: Callable[[], None]) -> None:
        self._requests.put(action)
        session = self._session
        if session is not None:
            session.wake()

    def _join_thread(self, join_s: float) -> None:
        """Wait up to `join_s` for the line's thread to end (after its stop was asked for)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(join_s)
            if thread.is_alive():
                self.log.error("%s: line thread did not stop within %.0f s", self.name, join_s)


def deliver(name: str, sink: EventSink | None, post: Post, events: Sequence[LineEvent], log: logging.Logger) -> None:
    """Hand line events to the caller's loop through `post`, in order; with no sink, or the loop closed, say so."""
    for event in events:
        if sink is None:
            log.warning("%s: %s dropped: no sink attached", name, type(event).__name__)
            continue
        try:
            post(functools.partial(sink, event))
        except RuntimeError as exc:  # the loop is closed: the daemon is stopping
            log.warning("%s: %s not delivered: %s", name, type(event).__name__, exc)
