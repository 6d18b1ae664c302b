"""The simulated modem's side of the wire, sans I/O: command bytes in, replies and URCs out through `hooks`.

It behaves like the real thing where the driver must cope: one playback at a time (a second play is refused, so
the driver has to chain on the end URC), volatile settings lost on reset, key reports only when enabled and only
in an answered call, uploads as raw bytes after CONNECT or `>`, withheld numbers as `""` with CLI validity 1.
"""
from __future__ import annotations

import io
import re
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .simdialects import Dialect

AMR_MAGIC = b"#!AMR\n"
AMR_FRAME_BYTES = {0: 12, 1: 13, 2: 15, 3: 17, 4: 19, 5: 20, 6: 26, 7: 31, 8: 5, 15: 0}
GARBAGE = b"\x8f\xff\xfe\x13\xc3\xa9\x80\r\n\xf0\x81~\x9a\r\n"
RING_EVERY_S = 3.0
MAX_WRITE = 10240  # SIM800 AT+FSWRITE limit


class Timer(Protocol):
    def cancel(self) -> None: ...


class ModemHooks(Protocol):
    def send(self, data: bytes) -> None: ...

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """`delay_s` in simulated seconds (the simulator divides by its speed)."""

    def prompt_started(self, prompt_id: str) -> None: ...

    def silent(self) -> None: ...

    def box_hung_up(self) -> None: ...

    def restart(self) -> None:
        """AT+CFUN=1,1 was answered: reboot (a USB modem re-enumerates)."""

    def pcm(self, on: bool) -> None: ...


@dataclass
class _Call:
    number: str | None
    active: bool = False
    ring: Timer | None = None


@dataclass
class Raw:
    """Raw bytes the modem collects after a prompt: `size` bytes, or up to Ctrl-Z/ESC when size is None."""

    size: int | None
    done: Callable[[bytes], None]
    data: bytearray = field(default_factory=bytearray)


def audio_seconds(name: str, data: bytes) -> float:
    """Playing time of a stored file: WAV from its header, AMR-NB by counting 20 ms frames."""
    if data.startswith(AMR_MAGIC):
        frames, pos = 0, len(AMR_MAGIC)
        while pos < len(data):
            pos += 1 + AMR_FRAME_BYTES.get((data[pos] >> 3) & 0x0F, 0)
            frames += 1
        return frames * 0.02
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            return reader.getnframes() / reader.getframerate()
    except (wave.Error, EOFError):
        return len(data) / 16000.0


class SimulatedModem:
    def __init__(self, dialect: Dialect, hooks: ModemHooks, *, imei: str, pin: str | None = None,
                 ims_registered: bool = True, boot_s: float = 2.0) -> None:
        self.dialect = dialect
        self.hooks = hooks
        self.imei = imei
        self.pin = pin
        self.ims_registered = ims_registered
        self._boot_s = boot_s
        self.files: dict[str, bytes] = {}
        self.sms_sent: list[tuple[str, str]] = []
        self.sms_wire: list[tuple[str, bytes]] = []  # (the AT+CMGS number field, the raw text bytes) as received
        self.sms_failures = 0  # fault: the network refuses the next N messages (+CMS ERROR: 500)
        self.commands: list[str] = []
        self.silent = False  # fault: hears and says nothing
        self.garbage: int | None = 0  # fault: answer the next N commands (None: all) with garbage
        self.duplicate_keys = False  # fault: every key reported twice
        self.call: _Call | None = None
        self.playing: tuple[str, Timer] | None = None
        self._buffer = bytearray()
        self._raw: Raw | None = None
        self._handlers = self._table()
        self._forget()
        self.sim_ready = pin is None

    # -- the wire --------------------------------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        if self.silent or self.booting:
            return
        self._buffer += data
        while self._buffer:
            if self._raw is not None:
                if not self._take_raw():
                    return
                continue
            cut = self._buffer.find(b"\r")
            if cut < 0:
                if len(self._buffer) > 4096:
                    self._buffer.clear()
                return
            line = self._buffer[:cut].decode("latin-1").strip()
            del self._buffer[: cut + 1]
            if line:
                self._command(line)

    def urc(self, text: str) -> None:
        if not (self.silent or self.booting):
            self.hooks.send(f"\r\n{text}\r\n".encode("latin-1"))

    # -- the far end -----------------------------------------------------------------------------------------------
    def ring(self, number: str | None) -> bool:
        if self.call is not None or self.booting:
            return False
        self.call = _Call(number)
        if self.call_state_on:
            self.urc(self.state_line(4))
        self._ring_burst()
        return True

    def key(self, key: str) -> None:
        call = self.call
        if call is not None and call.active and self.dtmf_on:
            for _ in range(2 if self.duplicate_keys else 1):
                self.urc(self.dialect.dtmf_urc(key))

    def caller_hangup(self) -> None:
        call = self.call
        if call is None:
            return
        self.end_playback(tell=False)
        self.drop_call()
        urcs = self.dialect.hangup_urcs if call.active else self.dialect.missed_urcs
        for text in urcs:
            self.urc(text.format(number=call.number or "Unknown"))
        if self.call_state_on:
            self.urc(self.state_line(-1 if self.dialect.call_state == "ccinfo" else 6, call))

    def reboot(self, announce: bool = True, boot_s: float | None = None) -> None:
        """As after a reset: the call drops, every volatile setting is forgotten, files stay; deaf while booting."""
        if self.call is not None:
            self.end_playback(tell=False)
            self.drop_call()
            self.hooks.box_hung_up()
        self._forget()
        self.booting = True
        self.hooks.schedule(self._boot_s if boot_s is None else boot_s, lambda: self._booted(announce))

    # -- inside: state ---------------------------------------------------------------------------------------------
    def _forget(self) -> None:
        self.echo, self.cmee, self.clip_on, self.dtmf_on, self.call_state_on = True, 0, False, False, False
        self.cmgf, self.cscs, self.pcm_on, self.booting = 0, "IRA", False, False
        self._buffer.clear()
        self._raw = None

    def _booted(self, announce: bool) -> None:
        self.booting = False
        if announce:
            for text in self.dialect.boot_urcs:
                self.urc(text)

    def drop_call(self) -> None:
        if self.call is not None and self.call.ring is not None:
            self.call.ring.cancel()
        self.call = None

    def _ring_burst(self) -> None:
        call = self.call
        if call is None or call.active:
            return
        self.urc("RING")
        if self.clip_on:
            number = call.number or ""
            validity = "0" if call.number else "1"
            self.urc(f'+CLIP: "{number}",{_toa(call.number)},"",0,"",{validity}')
        call.ring = self.hooks.schedule(RING_EVERY_S, self._ring_burst)

    def state_line(self, state: int, call: _Call | None = None) -> str:
        call = call or self.call
        number = call.number if call is not None and call.number else ""
        body = f'1,1,{state},0,0,"{number}",{_toa(call.number if call else None)}'
        return f'+QIND: "ccinfo",{body}' if self.dialect.call_state == "ccinfo" else f"+CLCC: {body}"

    def end_playback(self, tell: bool) -> bool:
        if self.playing is None:
            return False
        self.playing[1].cancel()
        self.playing = None
        if tell:
            self.hooks.silent()
        return True

    # -- inside: commands ------------------------------------------------------------------------------------------
    def _command(self, line: str) -> None:
        self.commands.append(line)
        if self.echo:
            self.hooks.send(line.encode("latin-1") + b"\r")
        if self.garbage != 0:
            self.hooks.send(GARBAGE)
            if self.garbage is not None:
                self.garbage -= 1
            return
        for pattern, handler in self._handlers:
            match = pattern.match(line)
            if match:
                handler(match)
                return
        self.final("ERROR")

    def reply(self, *lines: str, final: str = "OK") -> None:
        for text in lines:
            self.hooks.send(f"\r\n{text}\r\n".encode("latin-1"))
        self.final(final)

    def final(self, final: str) -> None:
        if final.startswith(("+CME ERROR", "+CMS ERROR")) and self.cmee == 0:
            final = "ERROR"
        self.hooks.send(f"\r\n{final}\r\n".encode("latin-1"))

    def prompt(self, text: str, raw: Raw) -> None:
        self.hooks.send(text.encode("latin-1"))
        self._raw = raw

    def _take_raw(self) -> bool:
        raw = self._raw
        assert raw is not None
        if raw.size is None:
            end = next((i for i, b in enumerate(self._buffer) if b in (0x1A, 0x1B)), -1)
            if end < 0:
                raw.data += self._buffer
                self._buffer.clear()
                return False
            raw.data += self._buffer[:end]
            cancelled = self._buffer[end] == 0x1B
            del self._buffer[: end + 1]
            self._raw = None
            raw.done(b"" if cancelled else bytes(raw.data))
            return True
        need = raw.size - len(raw.data)
        raw.data += self._buffer[:need]
        del self._buffer[:need]
        if len(raw.data) < raw.size:
            return False
        self._raw = None
        raw.done(bytes(raw.data))
        return True

    def file_name(self, path: str) -> str:
        for prefix in self.dialect.prefixes:
            if path.startswith(prefix):
                return path[len(prefix):]
        return path

    def _table(self) -> list[tuple[re.Pattern[str], Callable[[re.Match[str]], None]]]:
        from .simcommands import CommandSet  # the command set lives beside this state; it needs the class first

        return [(re.compile(pattern, re.IGNORECASE), handler) for pattern, handler in CommandSet(self).table()]


def _toa(number: str | None) -> int:
    """Type of address: 145 international, 129 national, 128 unknown (withheld)."""
    if not number:
        return 128
    return 145 if number.startswith("+") else 129
