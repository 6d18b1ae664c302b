"""The simulated voice modem and its line, sans I/O: host bytes in, replies, events and audio out via `hooks`.

It behaves like a stick where the driver must cope: caller ID only when turned on (and forgotten by a reset),
formatted or not, between the rings; data states with DLE stuffing both ways and a real-time playback buffer
(overflow and underrun counted); DTMF heard as tones in the received audio and, per dialect, reported as
`<DLE>digit` (framed, repeated); the caller's hang-up as the exchange's busy tone and, per dialect, `<DLE>b`,
`<DLE>l`; `AT+VIT` hangs up when the host falls silent.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from .codec import stuff
from .samples import RATE, WIDTH, from_int16, to_int16
from .simaudio import KEY_S, FarAudio, PromptEar
from .simdialects import Dialect

log = logging.getLogger(__name__)

DLE, ETX, CAN, SUB = 0x10, 0x03, 0x18, 0x1A
GARBAGE = b"\x8f\xff\xfe\x13\xc3\xa9\x80\r\n\xf0\x81~\x9a\r\n"
RING_EVERY_S = 5.0  # 1 s ring, 4 s pause (Vietnam's cadence not measured)
CID_DELAY_S = 1.0  # caller ID after its ring
QUIET_BEFORE_BUSY_S = 0.3  # the far end clears: a moment of silence, then the exchange's tone
BUSY_REPORT_AFTER_S = 1.5  # the modem's detector needs a few cadences
BUSY_REPORT_EVERY_S = 4.0
KEY_REPEAT_S = 0.07  # IS-101: <DLE>d again while the key is held
BUFFER_S = 2.0  # the modem's playback buffer (line seconds)
MAX_TICK_S = 0.5


class Timer(Protocol):
    def cancel(self) -> None: ...


class Hooks(Protocol):
    def send(self, data: bytes) -> None: ...

    def schedule(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """`delay_s` in line seconds."""

    def line_now(self) -> float: ...

    def prompt_started(self, prompt_id: str) -> None: ...

    def silent(self) -> None: ...

    def box_hung_up(self) -> None: ...


@dataclass
class SimCall:
    number: str | None
    answered: bool = False
    gone: bool = False  # the caller hung up
    rings: int = 0
    ring: Timer | None = None


@dataclass
class SimOptions:
    caller_id: str = "formatted"  # formatted, compact, garbage-date, hex, unavailable, none
    cid_after_ring: int = 1
    exchange: str = "busy"  # what the caller's hang-up sounds like: "busy" tone, or "silent"
    busy: tuple[float, float, float] = (425.0, 0.5, 0.5)  # the exchange's busy tone: Hz, on s, off s
    dtmf_reports: bool | None = None  # None: as the dialect does
    echo: float = 0.0  # the box's own audio back in the received stream (no echo canceller), linear gain
    buffer_s: float = BUFFER_S


class SimulatedV253:
    def __init__(self, dialect: Dialect, hooks: Hooks, ear: PromptEar, options: SimOptions, *,
                 speed: float) -> None:
        self.dialect = dialect
        self.hooks = hooks
        self.ear = ear
        self.options = options
        self.far = FarAudio(busy_hz=options.busy[0], busy_on_s=options.busy[1], busy_off_s=options.busy[2])
        self._buffer_floor_s = 0.3 * speed  # line seconds: a fast simulator holds at least 0.3 s of wall time
        self.commands: list[str] = []
        self.stats = {"overflow_bytes": 0, "underruns": 0, "vit_expired": 0, "max_buffered_s": 0.0}
        self.silent = False  # fault: hears and says nothing
        self.garbage: int | None = 0  # fault: answer the next N commands (None: all) with garbage
        self.refuse_off_hook = 0  # fault: the next N AT+VLS=1 answered ERROR
        self.call: SimCall | None = None
        self._line = bytearray()
        self._dle = False
        self._forget()

    # -- volatile state --------------------------------------------------------------------------------------------
    def _forget(self) -> None:
        self.echo, self.vcid, self.fclass, self.ste, self.sdi, self.vit = True, 0, 0, 0, 0, 0
        self.fmt: str | None = None
        self.off_hook = False
        self.data: str | None = None  # "tx", "rx", "duplex"
        self._ending = False
        self._opened = 0.0
        self._done = 0
        self._last_host = 0.0
        self._silence_reported = False
        self._line.clear()
        self._dle = False

    def reset(self, *, drop_call: bool) -> None:
        """ATZ or power-on: on-hook, voice state and caller ID forgotten."""
        self.on_hook()
        self._forget()
        if drop_call:
            self.end_call()

    # -- the wire --------------------------------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        if self.silent:
            return
        self._last_host = self.hooks.line_now()
        while data:
            if self.data is not None:
                data = self._data_in(data)
                continue
            cut = data.find(b"\r")
            if cut < 0:
                self._line += data
                if len(self._line) > 4096:
                    self._line.clear()
                return
            text = (bytes(self._line) + data[:cut]).decode("latin-1").strip()
            self._line.clear()
            data = data[cut + 1:]
            if text:
                self._command(text)

    def send_line(self, text: str) -> None:
        if not self.silent:
            self.hooks.send(f"\r\n{text}\r\n".encode("latin-1"))

    def send_event(self, code: str) -> None:
        if not self.silent:
            self.hooks.send(bytes([DLE]) + code.encode("latin-1"))

    def _command(self, text: str) -> None:
        start = text.upper().find("AT")
        if start < 0:
            return  # a modem ignores what holds no AT (the driver's escapes before ATZ)
        text = text[start:]
        self.commands.append(text)
        if self.echo:
            self.hooks.send(text.encode("latin-1") + b"\r")
        if self.garbage != 0:
            self.hooks.send(GARBAGE)
            if self.garbage is not None:
                self.garbage -= 1
            return
        from .simcommands import run_command  # the command table needs this class first

        run_command(self, text)

    # -- data states -----------------------------------------------------------------------------------------------
    def open_data(self, state: str) -> None:
        self.data, self._ending = state, False
        self._opened, self._done = self.hooks.line_now(), 0
        self._silence_reported = False
        self._dle = False
        if state in ("tx", "duplex"):
            assert self.fmt is not None
            self.ear.begin(self.fmt)

    def close_data(self, tail: bytes, result: str = "OK") -> None:
        if self.data in ("tx", "duplex"):
            self.ear.end()
        self.data = None
        self.hooks.send(tail)
        self.send_line(result)

    def _data_in(self, data: bytes) -> bytes:
        """Host bytes inside a data state; returns what follows its end (commands), else b""."""
        audio = bytearray()
        pos = 0
        while pos < len(data):
            if self._dle:
                self._dle = False
                code = data[pos]
                pos += 1
                if code == DLE:
                    audio.append(DLE)
                elif code == SUB:
                    audio += b"\x10\x10"
                else:
                    self._take_audio(bytes(audio))
                    audio.clear()
                    if self._control(code):
                        return data[pos:]
                continue
            cut = data.find(b"\x10", pos)
            end = len(data) if cut < 0 else cut
            audio += data[pos:end]
            pos = end if cut < 0 else cut + 1
            self._dle = cut >= 0
        self._take_audio(bytes(audio))
        return b""

    def _control(self, code: int) -> bool:
        """A host <DLE> code in a data state; True when the state ended."""
        state = self.data
        if code == CAN and state in ("tx", "duplex"):
            self.ear.clear()
        elif code == ETX and state == "tx":
            self._ending = True
        elif code == ord("!") and state == "rx":
            self.close_data(self.dialect.receive_end)
            return True
        elif code == ord("^") and state == "duplex":
            self.close_data(b"\x10\x03")
            return True
        return False

    def _take_audio(self, audio: bytes) -> None:
        if not audio or self.data not in ("tx", "duplex") or self._ending:
            return
        assert self.fmt is not None
        width = WIDTH[self.fmt]
        limit = int(max(self.options.buffer_s, self._buffer_floor_s) * RATE * width)
        room = limit - self.ear.buffered
        if len(audio) > room:
            self.stats["overflow_bytes"] += len(audio) - max(0, room)
            audio = audio[:max(0, room)]
        self.ear.feed(audio)
        buffered_s = self.ear.buffered / (RATE * width)
        self.stats["max_buffered_s"] = max(self.stats["max_buffered_s"], round(buffered_s, 3))

    def tick(self) -> None:
        """Advance the line to now: play what is due, send the caller's audio, run the timers of the line."""
        if self.silent:
            return
        now = self.hooks.line_now()
        if self.off_hook and self.vit and now - self._last_host > self.vit:
            log.info("simulated modem: AT+VIT expired: on-hook")
            self.stats["vit_expired"] += 1
            self.reset(drop_call=True)
            return
        if self.data is None or self.fmt is None:
            return
        due = min(int((now - self._opened) * RATE) - self._done, int(MAX_TICK_S * RATE))
        if due <= 0:
            return
        start = int(self._opened * RATE) + self._done
        self._done += due
        width = WIDTH[self.fmt]
        played = b""
        if self.data in ("tx", "duplex"):
            played = self.ear.play(due * width)
            if self.data == "tx" and self._ending and self.ear.buffered == 0:
                self.close_data(b"")
                return
            if self.data == "tx" and len(played) < due * width and self.ear.fed:
                self.stats["underruns"] += 1
        if self.data in ("rx", "duplex"):
            self._send_audio(start, due, played)

    def _send_audio(self, start: int, count: int, played: bytes) -> None:
        assert self.fmt is not None
        samples = self.far.render(start, count)
        if self.options.echo and played:
            echo = to_int16(self.fmt, played[: len(played) - len(played) % WIDTH[self.fmt]]).astype(float)
            samples[: echo.size] += self.options.echo * echo
        self.hooks.send(stuff(from_int16(self.fmt, samples)))
        quiet_s = (start + count - max(self.far.last_sound, int(self._opened * RATE))) / RATE
        if (self.data == "rx" and self.dialect.silence_reports and self.sdi and not self._silence_reported
                and quiet_s >= self.sdi / 10):
            self._silence_reported = True
            self.send_event("s")

    # -- the far end -----------------------------------------------------------------------------------------------
    def ring(self, number: str | None) -> bool:
        if self.call is not None or self.silent:
            return False
        self.call = SimCall(number)
        self._ring_burst()
        return True

    def _ring_burst(self) -> None:
        call = self.call
        if call is None or call.answered or call.gone:
            return
        call.rings += 1
        self.send_line("RING")
        if call.rings == self.options.cid_after_ring and self.vcid:
            self.hooks.schedule(CID_DELAY_S, self._caller_id)
        call.ring = self.hooks.schedule(RING_EVERY_S, self._ring_burst)

    def _caller_id(self) -> None:
        from .simcommands import caller_id_lines

        call = self.call
        if call is not None and not call.answered and not call.gone and self.vcid:
            for text in caller_id_lines(call.number, self.options.caller_id, self.vcid):
                self.send_line(text)

    def key(self, key: str) -> None:
        call = self.call
        if call is None or not call.answered or call.gone or not self.off_hook:
            log.info("simulated line: key pressed before the answer: nobody hears it")
            return
        self.far.key(key, int(self.hooks.line_now() * RATE))
        reports = self.options.dtmf_reports
        if (self.dialect.dtmf_reports if reports is None else reports) and self.fclass == 8:
            if self.dialect.dtmf_framing:
                self.send_event("/")
            self.send_event(key)
            if self.dialect.dtmf_repeat:
                for n in range(1, int(KEY_S / KEY_REPEAT_S) + 1):
                    self.hooks.schedule(n * KEY_REPEAT_S, lambda: self._repeat(key))
            if self.dialect.dtmf_framing:
                self.hooks.schedule(KEY_S, lambda: self.send_event("~") if self.off_hook else None)

    def _repeat(self, key: str) -> None:
        if self.off_hook:
            self.send_event(key)

    def caller_hangup(self, signals: bool = True) -> None:
        """The caller hangs up: silence, then (if `signals`) the exchange's tone and the modem's reports."""
        call = self.call
        if call is None:
            return
        call.gone = True
        if call.ring is not None:
            call.ring.cancel()
        if not call.answered:
            self.call = None
            return
        if not signals:
            return
        if self.dialect.loop_drop and self.ste & 4:
            self.send_event("l")
        if self.options.exchange == "busy":
            self.far.busy_from(int((self.hooks.line_now() + QUIET_BEFORE_BUSY_S) * RATE))
            if self.dialect.busy_reports:
                self.hooks.schedule(QUIET_BEFORE_BUSY_S + BUSY_REPORT_AFTER_S, self._busy_report)

    def _busy_report(self) -> None:
        if not self.off_hook or not self.far.busy:
            return
        if self.data in ("rx", "duplex"):
            self.send_event("b")
        self.hooks.schedule(BUSY_REPORT_EVERY_S if self.data else 0.5, self._busy_report)

    def on_hook(self) -> None:
        if self.data is not None:
            if self.data in ("tx", "duplex"):
                self.ear.end()
            self.data = None
        was = self.off_hook
        self.off_hook = False
        if was:
            self.end_call()

    def end_call(self) -> None:
        call, self.call = self.call, None
        self.far = FarAudio(busy_hz=self.options.busy[0], busy_on_s=self.options.busy[1],
                            busy_off_s=self.options.busy[2])
        if call is not None:
            if call.ring is not None:
                call.ring.cancel()
            if call.answered and not call.gone:
                self.hooks.box_hung_up()
