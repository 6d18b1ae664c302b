"""`CommandQueue`: the core both command engines share — one command in flight, a queue behind it, per-command
timeouts, bounded resends, and the rule that a command sent while a read is handled cannot be answered by it.

Sans-I/O apart from the injected `write` and `clock`. A dialect subclass says how events are handled, how a
command goes on the wire and what its replies look like; the logs it names are its own (`log`, `wire`).
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import ClassVar, Generic, Protocol, TypeVar


class CommandLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def retries(self) -> int: ...


class ReplyLike(Protocol):
    @property
    def status(self) -> str: ...


C = TypeVar("C", bound=CommandLike)
R = TypeVar("R", bound=ReplyLike)
E = TypeVar("E")


class InFlight(Generic[C, R]):
    def __init__(self, command: C, done: Callable[[R], None] | None) -> None:
        self.command = command
        self.done = done
        self.attempts = 0
        self.deadline = 0.0
        self.lines: list[str] = []
        self.payload_sent = False  # for dialects that send a payload when the modem prompts
        self.batch = -1  # the feed batch during which it was sent: that batch's lines predate it


class CommandQueue(Generic[C, R, E]):
    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    wire: ClassVar[logging.Logger] = logging.getLogger(__name__ + ".wire")

    def __init__(self, name: str, write: Callable[[bytes], None], clock: Callable[[], float]) -> None:
        self._name = name
        self._write = write
        self._clock = clock
        self._queue: deque[InFlight[C, R]] = deque()
        self._current: InFlight[C, R] | None = None
        self._batch = 0
        self._feeding = False

    @property
    def idle(self) -> bool:
        return self._current is None and not self._queue

    def submit(self, command: C, done: Callable[[R], None] | None = None) -> None:
        self._queue.append(InFlight(command, done))
        if self._current is None:
            self._next()

    def feed(self, events: list[E]) -> None:
        """Events of one read, in order. A command sent while they are handled cannot be answered by them."""
        self._batch += 1
        self._feeding = True
        try:
            for event in events:
                self._handle(event)
        finally:
            self._feeding = False

    def poll(self) -> None:
        """Time out or resend the command in flight."""
        current = self._current
        if current is None or self._clock() < current.deadline:
            return
        if current.attempts <= current.command.retries:
            self.log.info("%s: no reply to %s, sending it again", self._name, self._shown(current.command))
            self._send(current)
        else:
            self.log.warning("%s: no reply to %s within %.1f s", self._name, self._shown(current.command),
                             current.command.timeout_s)
            self._complete(current, self._reply(current.command, "timeout", tuple(current.lines)))

    def abort(self, reason: str) -> None:
        """Fail the command in flight and everything queued (the port is gone or the modem is being reset)."""
        waiting = ([self._current] if self._current is not None else []) + list(self._queue)
        self._current = None
        self._queue.clear()
        if waiting:
            self.log.info("%s: %d command(s) dropped: %s", self._name, len(waiting), reason)
        for item in waiting:
            if item.done is not None:
                item.done(self._reply(item.command, "aborted", tuple(item.lines)))

    # -- the dialect's part ----------------------------------------------------------------------------------------
    def _handle(self, event: E) -> None:
        raise NotImplementedError

    def _reply(self, command: C, status: str, lines: tuple[str, ...]) -> R:
        raise NotImplementedError

    def _encode(self, command: C) -> bytes:
        return command.text.encode("ascii") + b"\r"

    def _shown(self, command: C) -> str:
        """What the logs show for a command."""
        return command.text

    def _described(self, reply: R) -> str:
        """What the log shows for a failed reply."""
        raise NotImplementedError

    def _sending(self, item: InFlight[C, R]) -> None:
        """Called just before each send of `item`."""

    # -- inside ----------------------------------------------------------------------------------------------------
    def _in_reply(self) -> InFlight[C, R] | None:
        """The command in flight, unless it was sent after the bytes being handled were read."""
        current = self._current
        if current is not None and current.batch == self._batch:
            return None
        return current

    def _next(self) -> None:
        while self._current is None and self._queue:
            self._current = self._queue.popleft()
            self._send(self._current)

    def _send(self, item: InFlight[C, R]) -> None:
        item.attempts += 1
        item.lines.clear()
        item.payload_sent = False
        item.batch = self._batch if self._feeding else -1
        item.deadline = self._clock() + item.command.timeout_s
        self._sending(item)
        self.wire.debug("%s -> %s", self._name, self._shown(item.command))
        self._write(self._encode(item.command))

    def _complete(self, item: InFlight[C, R], reply: R) -> None:
        if self._current is item:
            self._current = None
        if reply.status == "error":
            self.log.debug("%s: %s", self._name, self._described(reply))
        try:
            if item.done is not None:
                item.done(reply)
        finally:
            self._next()
