"""Each stick's dialect as data: what to send, which shielded codes mean what, how a data state ends.

Sources: `shared/reference/v253.md` (callattendant, vgetty, Conexant and USRobotics references). What it marks
[unverified] is listed in each profile's `unverified` tuple: the line's report carries them and docs/v253.md
says how to check them on the bench. The driver's code holds no vendor string; the simulator keeps its own copy
of each dialect (`simdialects`) so the two check each other.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import V253Error

DLE, ETX, CAN, NUL = b"\x10", b"\x03", b"\x18", b"\x00"
#: one stuffed 0x10 data byte before a real <DLE> code: harmless on a conforming modem, needed by some Zoom 3095
TRIPLE = DLE + DLE


@dataclass(frozen=True)
class Profile:
    name: str
    family: str  # what ATI0 should say it is: "usr", "conexant" or "any"
    ati0: tuple[str, ...]  # ATI0 answers of this family ("5601", "56000"); empty: any
    caller_id: tuple[str, ...]  # turns caller ID on; re-sent after every reset and after every call
    silence: str | None  # AT+VSD template ({sdi} in 0.1 s); None: leave the modem's default
    vsm_arity: tuple[int, ...]  # AT+VSM forms to try: 2 = <cml>,<rate>; 4 = <cml>,<rate>,0,0
    fallback_format: tuple[int, str]  # (AT+VSM code, sample format) when AT+VSM=? cannot be read
    preference: tuple[str, ...] = ("ulaw", "alaw", "u8", "s16le")  # sample formats, best first
    duplex: bool | None = None  # AT+VTR: True/False known, None: ask the stick (AT+VTR=?)
    answer: str = "AT+VLS=1"
    hang_up: tuple[str, ...] = ("ATH0",)
    idle: tuple[str, ...] = ("AT+FCLASS=0",)  # back to the idle state after a call, before caller ID
    end_play: bytes = DLE + ETX  # +VTX: play what is buffered, then OK
    stop_play: bytes = DLE + CAN + DLE + ETX  # +VTX: drop the buffer now, then OK (barge-in)
    clear: bytes = DLE + CAN  # drop the transmit buffer, stay in the data state (a new list replaces one)
    abort_receive: bytes = DLE + b"!"  # +VRX: stop; <DLE><ETX> (not all) and OK follow
    leave_duplex: bytes = DLE + b"^"  # +VTR: stop; <DLE><ETX> and OK follow
    refresh: bytes = DLE + NUL  # no-op that restarts the AT+VIT timer
    loop_drop: bool = False  # <DLE>l means the far end went away (Conexant with -STE bit 2)
    silence_reports: bool = True  # <DLE>s / <DLE>q are reported (+VSD applied)
    extension: tuple[str, ...] = ()  # shielded codes for an extension taken off-hook
    unverified: tuple[str, ...] = field(default=())


USR5637 = Profile(
    name="usr5637",
    family="usr",
    ati0=("5601",),
    caller_id=("AT+VCID=1",),
    silence="AT+VSD=128,{sdi}",
    vsm_arity=(2, 4),
    fallback_format=(128, "u8"),
    extension=("H",),
    unverified=(
        "USR5637: AT+VSM=? codes (the USB guide and the softmodem reference disagree): parsed, never assumed",
        "USR5637: AT+VTR full duplex (listed by the softmodem reference; callattendant never used it)",
        "USR5637: <DLE>b busy reports in voice receive on a Vietnamese exchange",
        "USR5637: 16-bit linear samples little-endian",
    ),
)

CX93010 = Profile(
    name="cx93010",
    family="conexant",
    ati0=("56000",),
    caller_id=("AT-SCID=1;+VCID=1;-STE=7",),  # -STE bit 2: remote hang-up detection, reported as <DLE>l
    silence="AT+VSD=0,0",  # accepted but not applied (callattendant #116): silence is found in software
    vsm_arity=(4, 2),
    fallback_format=(1, "u8"),
    end_play=TRIPLE + DLE + ETX,
    stop_play=DLE + CAN + TRIPLE + DLE + ETX,
    abort_receive=TRIPLE + DLE + b"!",
    leave_duplex=TRIPLE + DLE + b"^",
    loop_drop=True,
    silence_reports=False,
    extension=("P", "p"),
    unverified=(
        "CX93010: -STE=7 remote hang-up detection (<DLE>l) on a Vietnamese exchange",
        "CX93010: AT+VTR full duplex accepted",
        "CX93010: <DLE><CAN> honoured inside AT+VTR",
        "CX93010: caller ID decoded for Vietnam (country profile, AT+GCI=?)",
    ),
)

GENERIC = Profile(
    name="generic",
    family="any",
    ati0=(),
    caller_id=("AT+VCID=1",),
    silence="AT+VSD=128,{sdi}",
    vsm_arity=(2, 4),
    fallback_format=(1, "u8"),  # V.253 code 1: unsigned PCM
    unverified=("generic V.253: every stick-specific behaviour; bench-check it (docs/v253.md)",),
)

PROFILES = {p.name: p for p in (USR5637, CX93010, GENERIC)}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise V253Error(f"no V.253 profile {name!r}; known: {', '.join(PROFILES)}") from None


def family_of(ati0: str | None) -> str | None:
    """The chipset family an ATI0 answer names, or None when no profile knows it."""
    for p in PROFILES.values():
        if ati0 is not None and ati0.strip() in p.ati0:
            return p.family
    return None
