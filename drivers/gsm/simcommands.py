"""The AT commands a simulated modem understands, per dialect: one handler per command, each answering the way
the manual (or the code that drives the real modem) says. Anything else is answered ERROR."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .simmodem import MAX_WRITE, Raw, audio_seconds

if TYPE_CHECKING:
    from .simmodem import SimulatedModem

Handler = Callable[[re.Match[str]], None]


class CommandSet:
    def __init__(self, modem: SimulatedModem) -> None:
        self.m = modem
        self.d = modem.dialect

    def table(self) -> list[tuple[str, Handler]]:
        d, esc = self.d, re.escape
        m = self.m
        rows: list[tuple[str, Handler]] = [
            (r"AT$", self.ok),
            (r"ATE([01])$", self.echo),
            (r"AT\+CMEE=(\d)$", self.cmee),
            (r"ATI$", self.ati),
            (r"AT\+C?GSN$", lambda _: m.reply(m.imei)),
            (r"AT\+CPIN\?$", self.cpin_query),
            (r'AT\+CPIN="?(\w+)"?$', self.cpin),
            (r"AT\+CLIP=([01])$", self.clip),
            (r"AT\+CLIP\?$", lambda _: m.reply(f"+CLIP: {int(m.clip_on)},1")),
            (r"AT\+CREG\?$", lambda _: m.reply("+CREG: 0,1")),
            (r"AT\+CSQ$", lambda _: m.reply("+CSQ: 23,99")),
            (r"AT\+CMGF=([01])$", self.cmgf),
            (r'AT\+CSCS="(\w+)"$', self.cscs),
            (r"AT\+CSMP=[\d,]+$", self.ok),
            (r'AT\+CMGS="([^"]*)"$', self.cmgs),
            (r"ATA$", self.answer),
            (r"AT\+CHUP$|ATH0?$", self.hang_up),
            (r"AT\+CFUN=1,1$", self.reset),
            (r"AT\+CLCC$", self.clcc),
            (esc(d.dtmf_enable) + r"([01])(,.*)?$", self.dtmf),
            (esc(d.call_state_enable) + r"([01]).*$", self.call_state),
            (r'AT\+QURCCFG="urcport",.*$|AT\+CVHU=\d$', self.ok),
            (d.play_command, self.play),
            (esc(d.stop_command) + "$", self.stop),
        ]
        if d.lte:
            rows += [(r"AT\+CEREG\?$", lambda _: m.reply("+CEREG: 0,1")),
                     (r"AT\+CIREG\?$", lambda _: m.reply(f"+CIREG: 0,{int(m.ims_registered)}"))]
        if d.name == "ec25":
            rows.append((r'AT\+QCFG="ims"$', lambda _: m.reply(f'+QCFG: "ims",1,{int(m.ims_registered)}')))
        rows += [(esc(text) + "$", self.pcm) for text in (*d.pcm_on, *d.pcm_off)]
        rows += {"qfupl": self._quectel_files, "cftranrx": self._simcom_files, "fswrite": self._sim800_files}[d.upload]()
        return rows

    # -- general ---------------------------------------------------------------------------------------------------
    def ok(self, _: re.Match[str]) -> None:
        self.m.reply()

    def echo(self, match: re.Match[str]) -> None:
        self.m.echo = match.group(1) == "1"
        self.m.reply()

    def cmee(self, match: re.Match[str]) -> None:
        self.m.cmee = int(match.group(1))
        self.m.reply()

    def ati(self, _: re.Match[str]) -> None:
        self.m.reply(*(line.format(imei=self.m.imei) for line in self.d.ati))

    def cpin_query(self, _: re.Match[str]) -> None:
        self.m.reply("+CPIN: READY" if self.m.sim_ready else "+CPIN: SIM PIN")

    def cpin(self, match: re.Match[str]) -> None:
        if self.m.sim_ready:
            self.m.final("+CME ERROR: 3")
        elif match.group(1) == self.m.pin:
            self.m.sim_ready = True
            self.m.reply()
        else:
            self.m.final("+CME ERROR: 16")

    def clip(self, match: re.Match[str]) -> None:
        self.m.clip_on = match.group(1) == "1"
        self.m.reply()

    def dtmf(self, match: re.Match[str]) -> None:
        self.m.dtmf_on = match.group(1) == "1"
        self.m.reply()

    def call_state(self, match: re.Match[str]) -> None:
        self.m.call_state_on = match.group(1) == "1"
        self.m.reply()

    def pcm(self, match: re.Match[str]) -> None:
        text = match.group(0).upper()
        if text == self.d.pcm_on[-1].upper():
            self.m.pcm_on = True
            self.m.hooks.pcm(True)
        elif text in (t.upper() for t in self.d.pcm_off):
            self.m.pcm_on = False
            self.m.hooks.pcm(False)
        self.m.reply()

    def reset(self, _: re.Match[str]) -> None:
        self.m.reply()
        self.m.hooks.restart()

    # -- calls -----------------------------------------------------------------------------------------------------
    def answer(self, _: re.Match[str]) -> None:
        call = self.m.call
        if call is None or call.active:
            self.m.final("NO CARRIER")
            return
        call.active = True
        if call.ring is not None:
            call.ring.cancel()
        self.m.reply()
        if self.d.name == "sim7600":
            self.m.urc("VOICE CALL: BEGIN")
        if self.m.call_state_on:
            self.m.urc(self.m.state_line(0))

    def hang_up(self, _: re.Match[str]) -> None:
        call = self.m.call
        self.m.reply()
        if call is None:
            return
        self.m.end_playback(tell=False)
        self.m.drop_call()
        if self.d.name == "sim7600" and call.active:
            self.m.urc("VOICE CALL: END: 000012")
        if self.m.call_state_on:
            self.m.urc(self.m.state_line(-1 if self.d.call_state == "ccinfo" else 6, call))
        self.m.hooks.box_hung_up()

    def clcc(self, _: re.Match[str]) -> None:
        call = self.m.call
        self.m.reply(*([self.m.state_line(0 if call.active else 4).replace('+QIND: "ccinfo",', "+CLCC: ")]
                       if call is not None else []))

    def play(self, match: re.Match[str]) -> None:
        call, name = self.m.call, self.m.file_name(match.group("path"))
        if call is None or not call.active or self.m.playing is not None:
            self.m.final(self.d.play_busy)
            return
        if name not in self.m.files:
            self.m.final(self.d.play_missing)
            return
        seconds = audio_seconds(name, self.m.files[name])
        timer = self.m.hooks.schedule(seconds, self._played)
        self.m.playing = (name, timer)
        self.m.reply()
        self.m.hooks.prompt_started(name.rsplit(".", 1)[0])

    def _played(self) -> None:
        self.m.playing = None
        self.m.hooks.silent()
        self.m.urc(self.d.play_end)

    def stop(self, _: re.Match[str]) -> None:
        stopped = self.m.end_playback(tell=True)
        self.m.reply()
        if stopped and self.d.stop_emits_end:
            self.m.urc(self.d.play_end)

    # -- SMS -------------------------------------------------------------------------------------------------------
    def cmgf(self, match: re.Match[str]) -> None:
        self.m.cmgf = int(match.group(1))
        self.m.reply()

    def cscs(self, match: re.Match[str]) -> None:
        self.m.cscs = match.group(1).upper()
        self.m.reply()

    def cmgs(self, match: re.Match[str]) -> None:
        if self.m.cmgf != 1:
            self.m.final("+CMS ERROR: 302")
            return
        self.m.prompt("\r\n> ", Raw(None, lambda body: self._sms(match.group(1), body)))

    def _sms(self, number: str, body: bytes) -> None:
        if not body:
            self.m.reply()  # ESC: cancelled
            return
        self.m.sms_wire.append((number, bytes(body)))
        if self.m.sms_failures > 0:
            self.m.sms_failures -= 1
            self.m.final("+CMS ERROR: 500")  # unknown error: what a network refusal looks like
            return
        try:
            if self.m.cscs == "UCS2":
                number = bytes.fromhex(number).decode("utf-16-be")
                text = bytes.fromhex(body.decode()).decode("utf-16-be")
            else:
                text = body.decode("latin-1")
        except (ValueError, UnicodeDecodeError):
            self.m.final("+CMS ERROR: 304")
            return
        self.m.sms_sent.append((number, text))
        self.m.reply(f"+CMGS: {len(self.m.sms_sent)}")

    # -- file stores -----------------------------------------------------------------------------------------------
    def _quectel_files(self) -> list[tuple[str, Handler]]:
        files = self.m.files

        def upload(match: re.Match[str]) -> None:
            name, size = self.m.file_name(match.group(1)), int(match.group(2))
            if name in files:
                self.m.final("+CME ERROR: 407")
            else:
                self.m.prompt("\r\nCONNECT\r\n", Raw(size, lambda data: self._stored(name, data, True)))

        def listing(_: re.Match[str]) -> None:
            self.m.reply(*(f'+QFLST: "UFS:{name}",{len(data)}' for name, data in files.items()))

        def delete(match: re.Match[str]) -> None:
            name = self.m.file_name(match.group(1))
            if name == "*":
                files.clear()
            self.m.final("OK" if files.pop(name, None) is not None or name == "*" else "+CME ERROR: 405")

        return [(r'AT\+QFUPL="([^"]+)",(\d+)(,\d+)?(,\d)?$', upload), (r'AT\+QFLST(="[^"]*")?$', listing),
                (r'AT\+QFDEL="([^"]+)"$', delete)]

    def _simcom_files(self) -> list[tuple[str, Handler]]:
        files = self.m.files

        def upload(match: re.Match[str]) -> None:
            name, size = self.m.file_name(match.group(1)), int(match.group(2))
            if name in files:
                self.m.final("ERROR")  # AT+CFTRANRX does not overwrite
            else:
                self.m.prompt("\r\n>", Raw(size, lambda data: self._stored(name, data, False)))

        return [(r'AT\+CFTRANRX="([^"]+)",(\d+)$', upload),
                (r'AT\+FSATTRI="([^"]+)"$', self._size("+FSATTRI")), (r'AT\+FSDEL="([^"]+)"$', self._delete)]

    def _sim800_files(self) -> list[tuple[str, Handler]]:
        files = self.m.files

        def create(match: re.Match[str]) -> None:
            name = self.m.file_name(match.group(1))
            if name in files:
                self.m.final("ERROR")
            else:
                files[name] = b""
                self.m.reply()

        def write(match: re.Match[str]) -> None:
            name, append, size = self.m.file_name(match.group(1)), match.group(2) == "1", int(match.group(3))
            if name not in files or size > MAX_WRITE:
                self.m.final("ERROR")
                return
            head = files[name] if append else b""
            self.m.prompt("\r\n>", Raw(size, lambda data: self._stored(name, head + data, False)))

        return [(r"AT\+FSCREATE=(.+)$", create), (r"AT\+FSWRITE=(.+),([01]),(\d+),(\d+)$", write),
                (r"AT\+FSFLSIZE=(.+)$", self._size("+FSFLSIZE")), (r"AT\+FSDEL=(.+)$", self._delete)]

    def _stored(self, name: str, data: bytes, quectel: bool) -> None:
        self.m.files[name] = data
        if quectel:
            self.m.reply(f"+QFUPL: {len(data)},{_xor16(data):x}")
        else:
            self.m.reply()

    def _size(self, prefix: str) -> Handler:
        def size(match: re.Match[str]) -> None:
            name = self.m.file_name(match.group(1))
            if name in self.m.files:
                self.m.reply(f"{prefix}: {len(self.m.files[name])}")
            else:
                self.m.final("ERROR")

        return size

    def _delete(self, match: re.Match[str]) -> None:
        name = self.m.file_name(match.group(1))
        self.m.final("OK" if self.m.files.pop(name, None) is not None else "ERROR")


def _xor16(data: bytes) -> int:
    value = 0
    for i in range(0, len(data) - 1, 2):
        value ^= (data[i] << 8) | data[i + 1]
    return value
