"""`PtySimulator`: the runtime under both modem simulators — a pseudo-terminal behind a stable link that can
vanish and come back, an op queue woken through a pipe, timers, the far end told through `post`, and the
select loop that drives it all on one thread. Subclasses add the modem and their extra descriptors."""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import threading
import time
import tty
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar

from drivers.line import Post
from drivers.simline import FarEnd

log = logging.getLogger(__name__)

JOIN_S = 2.0
IDLE_WAIT_S = 0.05


class Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Pty:
    """One pseudo-terminal pair; the simulator keeps the slave open so the master never reads EIO."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class PtySimulator:
    """The shared runtime; `error` is the driver's root exception, `thread_prefix` / `failure` name it in
    thread names and logs, `write_wait_s` (None: drop at once) how long `send` waits for a full pty."""

    error: ClassVar[type[Exception]] = Exception
    thread_prefix: ClassVar[str] = "modem-sim"
    failure: ClassVar[str] = "modem simulator failed"
    write_wait_s: ClassVar[float | None] = None

    def __init__(self, profile: str, known: Sequence[str], *, speed: float, post: Post | None,
                 link: str | os.PathLike[str] | None) -> None:
        if profile not in known:
            raise self.error(f"no simulator for profile {profile!r}; known: {', '.join(known)}")
        if speed <= 0:
            raise self.error("speed must be positive")
        self.profile = profile
        self.speed = speed
        self._post = post
        self._link = Path(link) if link is not None else None
        self._pty: Pty | None = None
        self._ops: list[Callable[[], None]] = []
        self._ops_lock = threading.Lock()
        self._timers: list[tuple[float, int, Timer, Callable[[], None]]] = []
        self._order = itertools.count()
        self._calls = itertools.count(1)
        self._far: FarEnd | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    @property
    def port(self) -> str:
        """The path the driver opens: the stable link when given, else the current pty."""
        if self._link is not None:
            return str(self._link)
        if self._pty is None:
            raise self.error("the simulator is not started")
        return self._pty.path

    def start(self) -> None:
        if self._thread is not None:
            return
        self._appear()
        self._started()
        self._thread = threading.Thread(target=self._run, name=f"{self.thread_prefix}-{self.profile}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_S)
        self._vanish()
        self._closed()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- hooks for subclasses (simulator thread unless said otherwise) ---------------------------------------------
    def _started(self) -> None:
        """Called by `start()` once the port is there (caller's thread)."""

    def _closed(self) -> None:
        """Called by `close()` after the port is gone (caller's thread)."""

    def _extra_fds(self) -> list[int]:
        return []

    def _wait_s(self) -> float:
        return IDLE_WAIT_S

    def _receive(self, data: bytes) -> None:
        raise NotImplementedError

    def _readable(self, readable: list[int]) -> None:
        """Data on one of `_extra_fds()`."""

    def _after_turn(self, now: float) -> None:
        """The end of each turn of the loop, after ops and timers."""

    # -- ModemHooks (simulator thread) -----------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        pty = self._pty
        if pty is None:
            return
        if self.write_wait_s is None:
            try:
                os.write(pty.master, data)
            except BlockingIOError:
                log.debug("simulated modem: the driver is not reading; %d bytes dropped", len(data))
            except OSError as exc:
                log.debug("simulated modem: write failed: %s", exc)
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(pty.master, view)
                view = view[written:]
            except BlockingIOError:
                if not select.select([], [pty.master], [], self.write_wait_s)[1]:
                    log.debug("simulated modem: the driver is not reading; %d bytes dropped", len(view))
                    return
            except OSError as exc:
                log.debug("simulated modem: write failed: %s", exc)
                return

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        timer = Timer()
        due = time.monotonic() + max(0.0, delay_s) / self.speed
        heapq.heappush(self._timers, (due, next(self._order), timer, callback))
        return timer

    def prompt_started(self, prompt_id: str) -> None:
        self._tell_prompt(prompt_id)

    def silent(self) -> None:
        self._tell_silent()

    def box_hung_up(self) -> None:
        far, self._far = self._far, None
        if far is not None:
            self._tell(far.box_hung_up)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _appear(self) -> None:
        if self._pty is not None:
            return
        self._pty = Pty()
        if self._link is not None:
            temporary = self._link.with_name(self._link.name + ".new")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(self._pty.path)
            temporary.replace(self._link)

    def _vanish(self) -> None:
        if self._link is not None:
            self._link.unlink(missing_ok=True)
        pty, self._pty = self._pty, None
        if pty is not None:
            pty.close()

    def _tell_prompt(self, prompt_id: str) -> None:
        far = self._far
        if far is not None:
            self._tell(lambda: far.prompt_started(prompt_id))

    def _tell_silent(self) -> None:
        far = self._far
        if far is not None:
            self._tell(far.silent)

    def _tell(self, callback: Callable[[], None]) -> None:
        if self._post is None:
            callback()
            return
        try:
            self._post(callback)
        except RuntimeError as exc:  # the caller's loop is closed
            log.debug("simulated modem: far end not told: %s", exc)

    def _do(self, op: Callable[[], None]) -> None:
        with self._ops_lock:
            self._ops.append(op)
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except OSError:
            pass

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._turn()
        except Exception:  # a thread's top: the simulator is dead; the driver will see a silent modem
            log.exception(self.failure)

    def _turn(self) -> None:
        pty = self._pty
        fds = [self._wake_r] + ([pty.master] if pty is not None else []) + self._extra_fds()
        wait = self._wait_s()
        if self._timers:
            wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
        readable, _, _ = select.select(fds, [], [], wait)
        if self._wake_r in readable:
            os.read(self._wake_r, 4096)
        if pty is not None and pty.master in readable:
            self._receive(read_fd(pty.master))
        self._readable(readable)
        with self._ops_lock:
            ops, self._ops = self._ops, []
        for op in ops:
            op()
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer, callback = heapq.heappop(self._timers)
            if not timer.cancelled:
                callback()
        self._after_turn(now)


def read_fd(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except (BlockingIOError, OSError):
        return b""


def write_fd(fd: int, data: bytes) -> None:
    """Best effort, like a modem whose host is not reading: what does not fit is dropped."""
    try:
        os.write(fd, data)
    except (BlockingIOError, OSError):
        log.debug("simulated modem: %d bytes of audio dropped", len(data))
