"""`V253Simulator`: a V.253 voice modem and the copper line behind it, on a pseudo-terminal, for the demo
(`resetline demo --line v253-sim`), field dry runs and the tests. Product code, not a test double.

The driver opens `sim.port` with pyserial like any stick. The caller's side has the API of `SimulatedLine`
(`ring`, `press`, `caller_hangs_up`, a `FarEnd` told what it hears). A key press becomes DTMF tones in the audio
the modem sends (so our detector is on the path), plus a `<DLE>digit` report where the profile's stick reports
keys. The caller's hang-up is silence, then the exchange's busy tone, plus `<DLE>b` / `<DLE>l` as the stick
does. Which prompt the caller hears is recognised from the audio itself (see `simaudio.PromptEar`). `speed`
runs the line N times faster (audio included: the driver must pace at N × 8000 samples/s). Faults on request:
a silent modem, garbage, a vanished port, a reset that forgets caller ID, a far end that goes silent.
"""
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
from typing import Any

from drivers.line import KEYS, Post, PromptSource
from drivers.simline import FarEnd

from . import V253Error
from .simaudio import PromptEar
from .simdialects import DIALECTS
from .simmodem import GARBAGE, SimOptions, SimulatedV253

log = logging.getLogger(__name__)

JOIN_S = 2.0
IDLE_WAIT_S = 0.05
TICK_S = 0.01  # the line's audio advances in steps of at least this much wall time


class _Timer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class _Pty:
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


class V253Simulator:
    def __init__(
        self,
        profile: str = "generic",
        *,
        speed: float = 1.0,
        post: Post | None = None,
        link: str | os.PathLike[str] | None = None,
        prompts: PromptSource | None = None,
        prompt_ids: Sequence[str] | None = None,
        caller_id: str = "formatted",
        cid_after_ring: int = 1,
        exchange: str = "busy",
        dtmf_reports: bool | None = None,
        echo: float = 0.0,
    ) -> None:
        if profile not in DIALECTS:
            raise V253Error(f"no simulator for profile {profile!r}; known: {', '.join(DIALECTS)}")
        if speed <= 0:
            raise V253Error("speed must be positive")
        self.profile = profile
        self.speed = speed
        self._post = post
        self._link = Path(link) if link is not None else None
        ids = tuple(prompt_ids) if prompt_ids is not None else _all_ids(prompts)
        self._ear = PromptEar(prompts, ids, self._tell_prompt, self._tell_silent)
        options = SimOptions(caller_id=caller_id, cid_after_ring=cid_after_ring, exchange=exchange,
                             dtmf_reports=dtmf_reports, echo=echo)
        self._modem = SimulatedV253(DIALECTS[profile], self, self._ear, options, speed=speed)
        self._pty: _Pty | None = None
        self._ops: list[Callable[[], None]] = []
        self._ops_lock = threading.Lock()
        self._timers: list[tuple[float, int, _Timer, Callable[[], None]]] = []
        self._order = itertools.count()
        self._calls = itertools.count(1)
        self._far: FarEnd | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self._last_tick = 0.0

    # -- lifecycle -------------------------------------------------------------------------------------------------
    @property
    def port(self) -> str:
        """The path the driver opens: the stable link when given, else the current pty."""
        if self._link is not None:
            return str(self._link)
        if self._pty is None:
            raise V253Error("the simulator is not started")
        return self._pty.path

    def start(self) -> None:
        if self._thread is not None:
            return
        self._appear()
        self._thread = threading.Thread(target=self._run, name=f"v253-sim-{self.profile}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_S)
        self._vanish()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the caller's side (any thread) ----------------------------------------------------------------------------
    def ring(self, caller: str | None, far_end: FarEnd) -> str:
        call_id = f"v253-sim-{next(self._calls)}"
        self._do(lambda: self._ring(caller, far_end))
        return call_id

    def press(self, key: str) -> None:
        if key not in KEYS:
            raise V253Error(f"not a keypad key: {key!r}")
        self._do(lambda: self._modem.key(key))

    def caller_hangs_up(self) -> None:
        def gone() -> None:
            self._far = None
            self._modem.caller_hangup()

        self._do(gone)

    # -- faults (any thread) ---------------------------------------------------------------------------------------
    def go_silent(self) -> None:
        """The stick hangs: nothing answered, no audio, no reports, until `power_cycle()`."""
        self._do(lambda: setattr(self._modem, "silent", True))

    def answer_garbage(self, count: int | None = None) -> None:
        """Answer the next `count` commands (None: all, until `power_cycle()`) with garbage bytes."""
        self._do(lambda: setattr(self._modem, "garbage", count))

    def noise(self, data: bytes = GARBAGE) -> None:
        """A burst of line noise, unsolicited."""
        self._do(lambda: self.send(data))

    def far_goes_silent(self) -> None:
        """The far end vanishes without a sound: no busy tone, no loop drop, no report (only silence)."""
        def gone() -> None:
            self._far = None
            self._modem.caller_hangup(signals=False)

        self._do(gone)

    def lose_settings(self) -> None:
        """A silent reset: the call drops, caller ID and the voice settings are forgotten."""
        self._do(lambda: self._modem.reset(drop_call=True))

    def vanish(self, reappear_after: float | None = None) -> None:
        """The port disappears (USB drop); it comes back after `reappear_after` line seconds, or at
        `power_cycle()`. The stick restarts meanwhile."""
        def drop() -> None:
            self._vanish()
            self._modem.reset(drop_call=True)
            if reappear_after is not None:
                self.schedule(reappear_after, self._appear)

        self._do(drop)

    def power_cycle(self) -> None:
        def cycle() -> None:
            self._modem.silent, self._modem.garbage = False, 0
            self._modem.reset(drop_call=True)
            self._appear()

        self._do(cycle)

    # -- what happened (any thread; copies) ------------------------------------------------------------------------
    @property
    def commands(self) -> list[str]:
        return list(self._modem.commands)

    @property
    def stats(self) -> dict[str, Any]:
        return dict(self._modem.stats)

    # -- Hooks (simulator thread) ----------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        pty = self._pty
        if pty is None:
            return
        view = memoryview(data)
        while view:
            try:
                written = os.write(pty.master, view)
                view = view[written:]
            except BlockingIOError:
                if not select.select([], [pty.master], [], 0.5)[1]:
                    log.debug("simulated modem: the driver is not reading; %d bytes dropped", len(view))
                    return
            except OSError as exc:
                log.debug("simulated modem: write failed: %s", exc)
                return

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer()
        due = time.monotonic() + max(0.0, delay_s) / self.speed
        heapq.heappush(self._timers, (due, next(self._order), timer, callback))
        return timer

    def line_now(self) -> float:
        return (time.monotonic() - self._t0) * self.speed

    def prompt_started(self, prompt_id: str) -> None:
        self._tell_prompt(prompt_id)

    def silent(self) -> None:
        self._tell_silent()

    def box_hung_up(self) -> None:
        far, self._far = self._far, None
        if far is not None:
            self._tell(far.box_hung_up)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _ring(self, caller: str | None, far_end: FarEnd) -> None:
        if self._modem.ring(caller):
            self._far = far_end
        else:
            log.warning("simulated %s: ring refused (busy or silent)", self.profile)
            self._tell(far_end.box_hung_up)

    def _appear(self) -> None:
        if self._pty is not None:
            return
        self._pty = _Pty()
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
        except Exception:  # a thread's top: the simulator is dead; the driver will see a silent stick
            log.exception("V.253 simulator failed")

    def _turn(self) -> None:
        pty = self._pty
        fds = [self._wake_r] + ([pty.master] if pty is not None else [])
        wait = IDLE_WAIT_S
        if self._modem.data is not None or self._modem.off_hook:
            wait = max(0.0, self._last_tick + TICK_S - time.monotonic())
        if self._timers:
            wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
        readable, _, _ = select.select(fds, [], [], wait)
        if self._wake_r in readable:
            os.read(self._wake_r, 4096)
        if pty is not None and pty.master in readable:
            self._modem.receive(_read(pty.master))
        with self._ops_lock:
            ops, self._ops = self._ops, []
        for op in ops:
            op()
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer, callback = heapq.heappop(self._timers)
            if not timer.cancelled:
                callback()
        if now - self._last_tick >= TICK_S:
            self._last_tick = now
            self._modem.tick()


def _all_ids(prompts: PromptSource | None) -> tuple[str, ...]:
    ids = getattr(prompts, "ids", None)  # the voice_prompts catalog lists its ids; a bare PromptSource need not
    return tuple(ids()) if callable(ids) else ()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except (BlockingIOError, OSError):
        return b""
