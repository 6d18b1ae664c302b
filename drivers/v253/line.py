"""`V253Line`: an analog line answered by a V.253 voice modem, as a `Line`. One thread owns the port: it brings
the stick up, serves calls (pacing the audio) and recovers it; the loop thread only queues requests, and events
leave through `post`.

Threading: `answer`/`play`/`stop_playback`/`hang_up` queue a request and return at once; the line's thread acts
on it within `poll_s`. One call's trouble ends that call (RemoteHangup) and climbs the recovery ladder (re-open by
the configured name, ATZ, USB rebind, power cycle: recovery.py); it never ends the driver.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from drivers.line import EventSink, PromptSource, Post
from drivers.serialmodem.lineshell import LineShell
from drivers.serialmodem.usb import SYS_TTY, SYS_USB_DRIVER

from . import V253Error
from .bringup import BringUpError, bring_up, caller_id_value
from .calldesk import CallDesk
from .engine import Command, Reply
from .modem import ModemSession, ModemUnresponsive, Stopping
from .profiles import profile as find_profile
from .recovery import RUNGS, v253_ladder
from .status import LineStatus
from .timings import V253Timings
from .transport import PortLost

log = logging.getLogger(__name__)

DTMF_SOURCES = ("modem", "detector")
JOIN_S = 5.0


class V253Line(LineShell):
    log = log

    def __init__(
        self,
        name: str,
        port: str,
        *,
        prompts: PromptSource,
        post: Post,
        profile: str = "generic",
        baudrate: int = 115200,
        dtmf: str = "modem",
        timings: V253Timings | None = None,
        power_cycle: Callable[[], None] | None = None,
        sys_tty: Path = SYS_TTY,
        usb_driver: Path = SYS_USB_DRIVER,
    ) -> None:
        """`power_cycle` is the last rung of recovery (a GPIO relay, say); `sys_tty`/`usb_driver` are where sysfs
        is (the USB rebind rung), changed only on a bench or in tests."""
        if dtmf not in DTMF_SOURCES:
            raise V253Error(f"dtmf must be one of {', '.join(DTMF_SOURCES)}, got {dtmf!r}")
        self.name = name
        self._url = port
        self._prompts = prompts
        self._profile = find_profile(profile)
        self._baudrate = baudrate
        self._t = timings or V253Timings()
        self._status = LineStatus(line=name, profile=self._profile.name, family=self._profile.family, port=port,
                                  dtmf=dtmf, unverified=self._profile.unverified)
        self._requests: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: ModemSession | None = None
        self._desk: CallDesk = CallDesk(name, self._profile, self._t, dtmf=dtmf, post=post, status=self._status,
                              clock=time.monotonic, prompts=prompts, trouble=self._set_trouble)
        self._trouble: str | None = None
        self._caller_id = False
        self._next_keepalive = 0.0
        self._ladder = v253_ladder(name, port, self._escapes(), self._t, self._open, self._stop.wait, power_cycle,
                                   sys_tty=sys_tty, usb_driver=usb_driver)
        self._recovered_at = float("-inf")

    # -- the Line protocol (loop thread) ---------------------------------------------------------------------------
    def attach(self, sink: EventSink) -> None:
        self._desk.sink = sink

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._main, name=f"v253-{self.name}", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Hang up a call in progress, stop the thread (bounded join), release the port."""
        self._stop.set()
        session = self._session
        if session is not None:
            session.wake()
        self._join_thread(JOIN_S + self._t.command_s)
        self._status.set(state="stopped")

    # -- beyond the protocol ---------------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        """Bring-up report: profile, identity (ATI0, ATI3, +FMI/+FMM/+FMR), formats offered and chosen, duplex,
        DTMF source, caller ID, calls, hang-up reasons, under/overruns, last error, faults, state."""
        return self._status.snapshot()

    def wait_state(self, states: Sequence[str], timeout: float) -> str:
        """Block until the line's state is one of `states` (or `timeout`); for `line test` and tests."""
        return self._status.wait_state(tuple(states), timeout)

    # -- the line's thread -----------------------------------------------------------------------------------------
    def _main(self) -> None:
        while not self._stop.is_set():
            try:
                self._lifecycle()
            except Stopping:
                return
            except Exception:  # the thread's top: log, report, start over (a line must come back alone)
                log.exception("%s: line thread failed; starting over", self.name)
                self._desk.lost("line thread failed")
                self._status.set(state="down", last_error="line thread failed (see log)")
                self._stop.wait(self._t.down_retry_s)

    def _lifecycle(self) -> None:
        session: ModemSession | None = None
        rung = 0
        try:
            while not self._stop.is_set():
                try:
                    if session is None:
                        session = self._open()
                    self._bring_up(session)
                    self._serve(session)
                except BringUpError as exc:
                    log.error("%s: %s", self.name, exc)
                    self._status.set(state="down", last_error=str(exc))
                    self._drop(session)
                    session = None
                    self._stop.wait(self._t.down_retry_s)
                except (ModemUnresponsive, PortLost) as exc:
                    if time.monotonic() - self._recovered_at >= self._t.stable_s:
                        rung = 0  # served long enough since the last recovery: start the ladder again
                    session, rung = self._recover(session, exc, rung)
        finally:
            self._drop(session)

    def _open(self) -> ModemSession:
        return ModemSession(self.name, self._url, self._baudrate, self._desk.line, self._desk.stream,
                            poll_s=self._t.poll_s, stop=self._stop)

    def _drop(self, session: ModemSession | None) -> None:
        self._session = None
        if session is not None:
            session.close()

    def _bring_up(self, session: ModemSession) -> None:
        started = time.monotonic()
        self._status.set(state="starting")
        self._trouble = None
        session.write(self._escapes() + b"\r")  # a data state left open by a crash ends here
        session.pause(0.2)
        setup = bring_up(session.run, self._profile, self._t, self._status)
        self._warm_prompts(setup.fmt)
        self._caller_id = setup.caller_id
        self._desk.connect(setup, session.submit, session.write, session.codec)
        now = time.monotonic()
        self._next_keepalive = now + self._t.keepalive_s
        self._status.set(state="up", bring_up_s=round(now - started, 3), last_error=None)
        log.info("%s: up in %.2f s (%s, %s, %s duplex)", self.name, now - started, self._profile.name, setup.fmt,
                 "full" if setup.duplex else "half")

    def _serve(self, session: ModemSession) -> None:
        self._session = session
        try:
            while not self._stop.is_set():
                started, in_call = time.monotonic(), self._desk.in_call
                session.set_poll(self._t.poll_s if in_call else self._t.idle_poll_s)
                session.pump()
                self._drain()
                self._desk.poll()
                if self._trouble is not None:
                    trouble, self._trouble = self._trouble, None
                    raise ModemUnresponsive(trouble)
                self._keepalive(session)
                if in_call:  # audio arrives every few ms: take it in poll_s batches, not byte by byte
                    self._stop.wait(max(0.0, self._t.poll_s - (time.monotonic() - started)))
            self._shutdown(session)
        finally:
            self._session = None

    def _recover(self, session: ModemSession | None, exc: V253Error, rung: int) -> tuple[ModemSession | None, int]:
        """End the call in progress (the journal hears RemoteHangup) and climb the ladder from `rung`; the session
        that answers (the caller then brings it up in full) and the rung to start from next time."""
        log.error("%s: modem trouble: %s", self.name, exc)
        self._desk.lost(f"modem trouble: {exc}")
        self._status.set(state="recovering", last_error=str(exc))
        self._status.bump("recoveries")
        self._session = None
        if isinstance(exc, PortLost) and session is not None:
            session.close()
        session, used = self._ladder.climb(session, rung)
        self._recovered_at = time.monotonic()
        if session is None:
            self._status.set(state="down", last_recovery="failed",
                             last_error=f"recovery failed after every rung ({', '.join(RUNGS[rung:])}): {exc}")
            self._stop.wait(self._t.down_retry_s)
            return None, 0
        self._status.set(last_recovery=RUNGS[used])
        return session, min(used + 1, len(RUNGS) - 1)

    def _shutdown(self, session: ModemSession) -> None:
        if not self._desk.in_call:
            return
        connected = self._desk.tracker.connected
        self._desk.end(send=False)
        if not connected:
            return
        try:
            session.write(self._escapes() + b"\r")
            session.run(Command(self._profile.hang_up[0], self._t.command_s), interruptible=False)
        except (ModemUnresponsive, PortLost) as exc:
            log.warning("%s: hang-up at close failed: %s", self.name, exc)

    def _warm_prompts(self, fmt: str) -> None:
        """Convert every prompt to the stick's format now, not while the first caller waits (about 0.1 s)."""
        ids = getattr(self._prompts, "ids", None)  # the voice_prompts catalog lists its ids; a bare source need not
        for prompt_id in ids() if callable(ids) else ():
            self._prompts.audio(prompt_id, fmt)

    def _escapes(self) -> bytes:
        p = self._profile
        return p.stop_play + p.abort_receive + p.leave_duplex

    def _set_trouble(self, reason: str) -> None:
        if self._trouble is None:
            self._trouble = reason

    def _drain(self) -> None:
        while True:
            try:
                request = self._requests.get_nowait()
            except queue.Empty:
                return
            request()

    def _keepalive(self, session: ModemSession) -> None:
        """Idle: is caller ID still on? A stick that reset silently has it off (callattendant #147)."""
        now = time.monotonic()
        if now < self._next_keepalive or self._desk.in_call or not session.engine.idle:
            return
        self._next_keepalive = now + self._t.keepalive_s
        session.submit(Command("AT+VCID?", self._t.command_s), self._canary)

    def _canary(self, reply: Reply) -> None:
        session = self._session
        if reply.status == "timeout":
            self._set_trouble("no reply to the idle check (AT+VCID?)")
        elif reply.ok and caller_id_value(reply) == "0" and self._caller_id and session is not None:
            log.warning("%s: caller ID found off (the stick reset?): turning it on again", self.name)
            self._status.bump("settings_restored")
            for text in self._profile.caller_id:
                session.submit(Command(text, self._t.command_s), None)

