"""`ModemSimulator`: an EC25, SIM7600 or SIM800 on the far side of a pseudo-terminal, for the demo
(`resetline demo --line gsm-sim`), field dry runs and the tests. Product code, not a test double.

The driver opens `sim.port` with pyserial like any modem. `link` gives the port a stable path (a symlink, as
udev gives a real modem), so a vanished port can come back under the same name. The caller's side has the same
API as `SimulatedLine` (`ring`, `press`, `caller_hangs_up`, a `FarEnd` told what it hears); `speed` divides every
duration (playback, ringing, boot) so a call can run 10× faster. Faults come on request: silence, garbage, a
vanished port, a reset that loses the settings, an SMS or a network notice mid-call.
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

from drivers.line import KEYS, Post, PromptSource
from drivers.simline import FarEnd

from . import GsmError
from .simaudio import PcmEar
from .simdialects import DIALECTS
from .simmodem import GARBAGE, SimulatedModem

log = logging.getLogger(__name__)

JOIN_S = 2.0
IDLE_WAIT_S = 0.05


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


class ModemSimulator:
    def __init__(
        self,
        profile: str = "ec25",
        *,
        speed: float = 1.0,
        post: Post | None = None,
        link: str | os.PathLike[str] | None = None,
        audio: bool = False,
        prompts: PromptSource | None = None,
        prompt_ids: Sequence[str] = (),
        pin: str | None = None,
        imei: str = "861234567890128",
        ims_registered: bool = True,
        boot_s: float = 2.0,
    ) -> None:
        if profile not in DIALECTS:
            raise GsmError(f"no simulator for profile {profile!r}; known: {', '.join(DIALECTS)}")
        if speed <= 0:
            raise GsmError("speed must be positive")
        self.profile = profile
        self.speed = speed
        self._post = post
        self._link = Path(link) if link is not None else None
        self._modem = SimulatedModem(DIALECTS[profile], self, imei=imei, pin=pin,
                                     ims_registered=ims_registered, boot_s=boot_s)
        self._boot_s = boot_s
        self._ear = PcmEar(prompts, prompt_ids, self._tell_prompt, self._tell_silent) if audio else None
        self._at: _Pty | None = None
        self._audio: _Pty | None = None
        self._ops: list[Callable[[], None]] = []
        self._ops_lock = threading.Lock()
        self._timers: list[tuple[float, int, _Timer, Callable[[], None]]] = []
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
        if self._at is None:
            raise GsmError("the simulator is not started")
        return self._at.path

    @property
    def audio_port(self) -> str | None:
        return self._audio.path if self._audio is not None else None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._appear()
        if self._ear is not None:
            self._audio = _Pty()
        self._thread = threading.Thread(target=self._run, name=f"modem-sim-{self.profile}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_S)
        self._vanish()
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the caller's side (any thread) ----------------------------------------------------------------------------
    def ring(self, caller: str | None, far_end: FarEnd) -> str:
        if self._modem.call is not None:
            raise GsmError(f"simulated {self.profile} is busy with a call")
        call_id = f"{self.profile}-sim-{next(self._calls)}"
        self._do(lambda: self._ring(caller, far_end))
        return call_id

    def press(self, key: str) -> None:
        if key not in KEYS:
            raise GsmError(f"not a keypad key: {key!r}")
        self._do(lambda: self._modem.key(key))

    def caller_hangs_up(self) -> None:
        self._do(self._caller_gone)

    # -- faults (any thread) ---------------------------------------------------------------------------------------
    def go_silent(self) -> None:
        """The firmware hangs: nothing is answered, nothing reported, until `power_cycle()`."""
        self._do(lambda: setattr(self._modem, "silent", True))

    def answer_garbage(self, count: int | None = None) -> None:
        """Answer the next `count` commands (None: all, until `power_cycle()`) with garbage bytes."""
        self._do(lambda: setattr(self._modem, "garbage", count))

    def noise(self, data: bytes = GARBAGE) -> None:
        """A burst of line noise, unsolicited."""
        self._do(lambda: self.send(data))

    def vanish(self, reappear_after: float | None = None) -> None:
        """The port disappears (USB drop); it comes back after `reappear_after` simulated seconds, or at
        `power_cycle()`. The modem restarts meanwhile."""
        self._do(lambda: self._drop_off(reappear_after))

    def lose_settings(self, announce: bool = True) -> None:
        """A reset: the call drops, volatile settings (caller ID, key reports, call-state URCs) are forgotten;
        `announce` sends the boot URCs (RDY …), otherwise the reset is silent."""
        self._do(lambda: self._modem.reboot(announce, boot_s=0.1))

    def sms_arrives(self, index: int = 3) -> None:
        self._do(lambda: self._modem.urc(f'+CMTI: "SM",{index}'))

    def network_notice(self, text: str | None = None) -> None:
        self._do(lambda: self._modem.urc(text or self._modem.dialect.notice))

    def power_cycle(self) -> None:
        """Power off and on: every fault cleared, the modem boots (a USB modem re-enumerates)."""
        def cycle() -> None:
            self._modem.silent, self._modem.garbage, self._modem.duplicate_keys = False, 0, False
            self.restart()

        self._do(cycle)

    def put_file(self, name: str, data: bytes) -> None:
        """A file already in the modem's store (a stale prompt from an older release, say)."""
        self._do(lambda: self._modem.files.__setitem__(name, data))

    def set_ims(self, registered: bool) -> None:
        self._do(lambda: setattr(self._modem, "ims_registered", registered))

    def duplicate_keys(self, on: bool = True) -> None:
        self._do(lambda: setattr(self._modem, "duplicate_keys", on))

    # -- what happened (any thread; copies) ------------------------------------------------------------------------
    @property
    def sms_sent(self) -> list[tuple[str, str]]:
        return list(self._modem.sms_sent)

    @property
    def files(self) -> dict[str, int]:
        return {name: len(data) for name, data in dict(self._modem.files).items()}

    @property
    def commands(self) -> list[str]:
        return list(self._modem.commands)

    # -- ModemHooks (simulator thread) -----------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        pty = self._at
        if pty is None:
            return
        try:
            os.write(pty.master, data)
        except BlockingIOError:
            log.debug("simulated modem: the driver is not reading; %d bytes dropped", len(data))
        except OSError as exc:
            log.debug("simulated modem: write failed: %s", exc)

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> _Timer:
        timer = _Timer()
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

    def restart(self) -> None:
        if self._modem.dialect.usb:
            self._vanish()
            self.schedule(self._boot_s, self._appear)
        self._modem.reboot(True)

    def pcm(self, on: bool) -> None:
        if self._ear is not None:
            self._ear.switch(on)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _ring(self, caller: str | None, far_end: FarEnd) -> None:
        if self._modem.ring(caller):
            self._far = far_end
        else:
            log.warning("simulated %s: ring refused (busy or booting)", self.profile)
            self._tell(far_end.box_hung_up)

    def _caller_gone(self) -> None:
        self._far = None
        self._modem.caller_hangup()

    def _drop_off(self, reappear_after: float | None) -> None:
        self._vanish()
        self._modem.reboot(True)
        if reappear_after is not None:
            self.schedule(reappear_after, self._appear)

    def _appear(self) -> None:
        if self._at is not None:
            return
        self._at = _Pty()
        if self._link is not None:
            temporary = self._link.with_name(self._link.name + ".new")
            temporary.unlink(missing_ok=True)
            temporary.symlink_to(self._at.path)
            temporary.replace(self._link)

    def _vanish(self) -> None:
        if self._link is not None:
            self._link.unlink(missing_ok=True)
        pty, self._at = self._at, None
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
            log.exception("modem simulator failed")

    def _turn(self) -> None:
        at, audio = self._at, self._audio
        fds = [self._wake_r] + [p.master for p in (at, audio) if p is not None]
        wait = IDLE_WAIT_S
        if self._timers:
            wait = min(wait, max(0.0, self._timers[0][0] - time.monotonic()))
        readable, _, _ = select.select(fds, [], [], wait)
        if self._wake_r in readable:
            os.read(self._wake_r, 4096)
        if at is not None and at.master in readable:
            self._modem.receive(_read(at.master))
        if audio is not None and audio.master in readable and self._ear is not None:
            self._ear.hear(_read(audio.master))
        with self._ops_lock:
            ops, self._ops = self._ops, []
        for op in ops:
            op()
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer, callback = heapq.heappop(self._timers)
            if not timer.cancelled:
                callback()


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except (BlockingIOError, OSError):
        return b""
