"""`ModemSimulator`: an EC25, SIM7600 or SIM800 on the far side of a pseudo-terminal, for the demo
(`resetline demo --line gsm-sim`), field dry runs and the tests. Product code, not a test double.

The driver opens `sim.port` with pyserial like any modem. `link` gives the port a stable path (a symlink, as
udev gives a real modem), so a vanished port can come back under the same name. The caller's side has the same
API as `SimulatedLine` (`ring`, `press`, `caller_hangs_up`, a `FarEnd` told what it hears); `speed` divides every
duration (playback, ringing, boot) so a call can run 10× faster. Faults come on request: silence, garbage, a
vanished port, a reset that loses the settings, an SMS or a network notice mid-call.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from drivers.line import KEYS, Post, PromptSource
from drivers.serialmodem.ptysim import Pty, PtySimulator, read_fd, write_fd
from drivers.simline import FarEnd

from . import GsmError
from .simaudio import PcmEar, PcmMouth
from .simdialects import DIALECTS
from .simmodem import GARBAGE, SimulatedModem

log = logging.getLogger(__name__)


class ModemSimulator(PtySimulator):
    error = GsmError
    thread_prefix = "modem-sim"
    failure = "modem simulator failed"

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
        dtmf_reports: bool = True,
        echo: bool = False,
    ) -> None:
        super().__init__(profile, tuple(DIALECTS), speed=speed, post=post, link=link)
        self._modem = SimulatedModem(DIALECTS[profile], self, imei=imei, pin=pin,
                                     ims_registered=ims_registered, boot_s=boot_s)
        self._boot_s = boot_s
        self._ear = PcmEar(prompts, prompt_ids, self._tell_prompt, self._tell_silent) if audio else None
        self._mouth = PcmMouth(echo) if audio else None
        self._dtmf_reports = dtmf_reports
        self._audio: Pty | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------------
    @property
    def audio_port(self) -> str | None:
        return self._audio.path if self._audio is not None else None

    def _started(self) -> None:
        if self._ear is not None:
            self._audio = Pty()

    def _closed(self) -> None:
        if self._audio is not None:
            self._audio.close()
            self._audio = None

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
        self._do(lambda: self._press(key))

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

    def fail_sms(self, count: int = 1) -> None:
        """The network refuses the next `count` SMS (`+CMS ERROR: 500` after the text)."""
        self._do(lambda: setattr(self._modem, "sms_failures", count))

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
    def pcm_sound_frames(self) -> int:
        """usb-pcm: frames the caller heard that were sound but no prompt (a test tone reached the far end)."""
        return self._ear.sound_frames if self._ear is not None else 0

    @property
    def sms_wire(self) -> list[tuple[str, bytes]]:
        """Each SMS as it crossed the pty: the AT+CMGS number field and the raw text bytes (UCS2 hex)."""
        return list(self._modem.sms_wire)

    @property
    def files(self) -> dict[str, int]:
        return {name: len(data) for name, data in dict(self._modem.files).items()}

    @property
    def commands(self) -> list[str]:
        return list(self._modem.commands)

    # -- ModemHooks (simulator thread) -----------------------------------------------------------------------------
    def restart(self) -> None:
        if self._modem.dialect.usb:
            self._vanish()
            self.schedule(self._boot_s, self._appear)
        self._modem.reboot(True)

    def pcm(self, on: bool) -> None:
        if self._ear is not None:
            self._ear.switch(on)
        if self._mouth is not None:
            self._mouth.switch(on)

    # -- inside ----------------------------------------------------------------------------------------------------
    def _ring(self, caller: str | None, far_end: FarEnd) -> None:
        if self._modem.ring(caller):
            self._far = far_end
        else:
            log.warning("simulated %s: ring refused (busy or booting)", self.profile)
            self._tell(far_end.box_hung_up)

    def _press(self, key: str) -> None:
        """In-band on the usb-pcm path when it is on; the modem's key report unless `dtmf_reports` is off (the
        field failure: a carrier whose DTMF reports never arrive)."""
        if self._mouth is not None and self._modem.call is not None and self._modem.call.active:
            self._mouth.key(key)
        if self._dtmf_reports:
            self._modem.key(key)

    def _caller_gone(self) -> None:
        self._far = None
        self._modem.caller_hangup()

    def _drop_off(self, reappear_after: float | None) -> None:
        self._vanish()
        self._modem.reboot(True)
        if reappear_after is not None:
            self.schedule(reappear_after, self._appear)

    def _extra_fds(self) -> list[int]:
        return [self._audio.master] if self._audio is not None else []

    def _receive(self, data: bytes) -> None:
        self._modem.receive(data)

    def _readable(self, readable: list[int]) -> None:
        audio = self._audio
        if audio is not None and audio.master in readable and self._ear is not None:
            data = read_fd(audio.master)
            self._ear.hear(data)
            if self._mouth is not None:
                back = self._mouth.answer(data)
                if back:
                    write_fd(audio.master, back)
