"""The simulated stick's AT commands, one handler per command, and the caller-ID lines it sends.

Compound commands (`AT-SCID=1;+VCID=1;-STE=7`) run part by part; any part failing makes the whole line ERROR.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable

from .simmodem import SimulatedV253

Handler = Callable[[SimulatedV253, re.Match[str]], "list[str] | tuple[list[str], str] | None"]
_INT = r"(\d+)"


def run_command(modem: SimulatedV253, text: str) -> None:
    body = text[2:].strip()
    parts = [part.strip() for part in body.split(";")] if body else [""]
    lines: list[str] = []
    final = "OK"
    for part in parts:
        result = _one(modem, part.upper())
        if result is None:
            final = "ERROR"
            break
        if isinstance(result, tuple):  # (lines, final): CONNECT or VCON
            lines += result[0]
            final = result[1]
        else:
            lines += result
    for line in lines:
        modem.send_line(line)
    if final:
        modem.send_line(final)


def _one(modem: SimulatedV253, part: str) -> list[str] | tuple[list[str], str] | None:
    for pattern, handler in TABLE:
        found = re.fullmatch(pattern, part)
        if found:
            return handler(modem, found)
    return None


def caller_id_lines(number: str | None, style: str, vcid: int) -> list[str]:
    """What the stick reports between the rings for `style` (see SimOptions.caller_id)."""
    stamp = time.localtime()
    date, clock = time.strftime("%m%d", stamp), time.strftime("%H%M", stamp)
    shown = number or "P"
    if style == "unavailable":
        shown = "O"
    if style == "none":
        return []
    if style == "hex" or vcid == 2:
        body = (date + clock + shown).encode("ascii")
        packet = bytes([0x04, len(body)]) + body
        packet += bytes([(-sum(packet)) & 0xFF])
        return [packet.hex().upper()]
    if style == "compact":
        return [f"DATE={date}", f"TIME={clock}", f"NMBR={shown}"]
    if style == "garbage-date":
        date, clock = "1399", "2?61"
    lines = [f"DATE = {date}", f"TIME = {clock}", f"NMBR = {shown}"]
    if number:
        lines.append("NAME = NGUYEN VAN A")
    return lines


# -- handlers ----------------------------------------------------------------------------------------------------------
def _ok(modem: SimulatedV253, found: re.Match[str]) -> list[str]:
    return []


def _reset(modem: SimulatedV253, found: re.Match[str]) -> list[str]:
    modem.reset(drop_call=False)
    return []


def _echo(modem: SimulatedV253, found: re.Match[str]) -> list[str]:
    modem.echo = found.group(1) == "1"
    return []


def _ident(field: str) -> Handler:
    return lambda modem, found: [str(getattr(modem.dialect, field))]


def _fclass(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    value = int(found.group(1))
    if value not in (0, 8):
        return None
    if value == 0 and modem.off_hook:
        modem.on_hook()
    modem.fclass = value
    return []


def _vsm(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    args = [a for a in found.group(1).split(",")]
    if modem.fclass != 8 or len(args) not in modem.dialect.vsm_arity or not all(a.isdigit() for a in args):
        return None
    fmt = modem.dialect.formats.get(int(args[0]))
    if fmt is None or int(args[1]) != 8000:
        return None
    modem.fmt = fmt
    modem.ear.prepare(fmt)
    return []


def _vsm_query(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    return list(modem.dialect.offers) if modem.fclass == 8 else None


def _vsd(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    modem.sdi = int(found.group(2)) if modem.dialect.silence_reports else 0
    return [] if modem.fclass == 8 else None


def _vit(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    value = int(found.group(1))
    if value > 255:
        return None
    modem.vit = value
    return []


def _vls(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    if modem.fclass != 8:
        return None
    if found.group(1) == "0":
        modem.on_hook()
        return []
    if found.group(1) != "1":
        return None
    if modem.refuse_off_hook > 0:  # fault: the relay or DAA does not take the line (thess #11)
        modem.refuse_off_hook -= 1
        return None
    modem.off_hook = True
    call = modem.call
    if call is not None and not call.gone:
        call.answered = True
        if call.ring is not None:
            call.ring.cancel()
    return []


def _hang_up(modem: SimulatedV253, found: re.Match[str]) -> list[str]:
    modem.on_hook()
    return []


def _start(state: str) -> Handler:
    def handler(modem: SimulatedV253, found: re.Match[str]) -> tuple[list[str], str] | None:
        if not modem.off_hook or modem.fclass != 8 or modem.fmt is None:
            return None
        if state == "duplex" and not modem.dialect.duplex:
            return None
        modem.send_line("CONNECT")
        modem.open_data(state)
        return [], ""

    return handler


def _vtr_query(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    return [] if modem.dialect.duplex and modem.fclass == 8 else None


def _vcid(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    value = int(found.group(1))
    if value > 2:
        return None
    modem.vcid = value
    return []


def _vcid_query(modem: SimulatedV253, found: re.Match[str]) -> list[str]:
    return [str(modem.vcid)]


def _scid(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    if not modem.dialect.ste:
        return None
    modem.vcid = max(modem.vcid, int(found.group(1)))
    return []


def _ste(modem: SimulatedV253, found: re.Match[str]) -> list[str] | None:
    if not modem.dialect.ste:
        return None
    modem.ste = int(found.group(1))
    return []


TABLE: list[tuple[str, Handler]] = [
    ("", _ok),
    ("Z0?", _reset),
    ("E([01])", _echo),
    ("V1", _ok),
    ("&W0?", _ok),
    ("I0?", _ident("ati0")),
    ("I3", _ident("ati3")),
    (r"\+FMI\?", _ident("manufacturer")),
    (r"\+FMM\?", _ident("model")),
    (r"\+FMR\?", _ident("revision")),
    (rf"\+FCLASS={_INT}", _fclass),
    (r"\+VSM=\?", _vsm_query),
    (r"\+VSM=([\d,]+)", _vsm),
    (rf"\+VSD={_INT},{_INT}", _vsd),
    (rf"\+VIT={_INT}", _vit),
    (r"\+VLS=(\d)", _vls),
    ("H0?", _hang_up),
    (r"\+VTX", _start("tx")),
    (r"\+VRX", _start("rx")),
    (r"\+VTR", _start("duplex")),
    (r"\+VTR=\?", _vtr_query),
    (rf"\+VCID={_INT}", _vcid),
    (r"\+VCID\?", _vcid_query),
    (rf"-SCID={_INT}", _scid),
    (rf"-STE={_INT}", _ste),
]
