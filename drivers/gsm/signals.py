"""What a URC means for a call, read through the profile: ring, caller ID, call state, key, end of playback, reboot.

Pure parsing: a URC in, one typed signal out. Anything it cannot read becomes `Other` (logged by the line, never
fatal to a call): an SMS notice, a network notice, a malformed report.
"""
from __future__ import annotations

from dataclasses import dataclass

from drivers.line import KEYS

from .codec import Urc
from .profiles import Profile

#: what networks and modems put in place of a withheld number (compared lower-case)
WITHHELD = frozenset({"", "restricted", "anonymous", "unknown", "private", "unavailable", "withheld", "p", "o"})
#: +CLIP <CLI validity>: 1 withheld by the caller, 2 not available
_CLI_HIDDEN = {"1", "2"}


@dataclass(frozen=True)
class Ring:
    pass


@dataclass(frozen=True)
class CallerId:
    number: str | None  # None: withheld or not available


@dataclass(frozen=True)
class CallState:
    state: str  # "incoming", "active", "released" or "other"
    number: str | None = None
    incoming: bool = True  # mobile-terminated


@dataclass(frozen=True)
class CallEnded:
    reason: str


@dataclass(frozen=True)
class Key:
    key: str


@dataclass(frozen=True)
class PlaybackEnded:
    pass


@dataclass(frozen=True)
class Rebooted:
    text: str


@dataclass(frozen=True)
class Other:
    text: str
    malformed: bool = False


Signal = Ring | CallerId | CallState | CallEnded | Key | PlaybackEnded | Rebooted | Other

_CCINFO_STATES = {"0": "active", "4": "incoming", "5": "incoming", "-1": "released", "6": "released", "7": "released"}
_CLCC_STATES = {"0": "active", "4": "incoming", "5": "incoming", "6": "released"}


def interpret(profile: Profile, urc: Urc) -> Signal:
    text = urc.text
    try:
        if text.startswith(profile.dtmf_prefix):
            return _key(profile, urc.text[len(profile.dtmf_prefix):].strip(), text)
        if text in profile.play_end:
            return PlaybackEnded()
        if urc.prefix in profile.boot_urcs:
            return Rebooted(text)
        if urc.prefix in profile.ring_urcs:
            return Ring()
        if urc.prefix == "+CLIP:":
            return CallerId(_clip_number(urc.value))
        if profile.call_state_prefix and text.startswith(profile.call_state_prefix):
            return _call_state(profile.call_state_style, text[len(profile.call_state_prefix):].lstrip(" ,:"))
        if text.startswith("VOICE CALL: BEGIN"):
            return CallState("active")
        if any(text.startswith(prefix) for prefix in profile.hangup_urcs):
            return CallEnded(text)
    except (ValueError, IndexError):
        return Other(text, malformed=True)
    return Other(text)


def fields(text: str) -> list[str]:
    """Comma-separated fields, commas inside double quotes kept, quotes removed: `"a,b",1` → `['a,b', '1']`."""
    out: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out


def caller_number(raw: str) -> str | None:
    """A presented number as the line saw it, or None when withheld; UCS2 hex (CSCS="UCS2" while an SMS is
    being sent) is decoded."""
    number = raw.strip()
    decoded = _ucs2_digits(number)
    if decoded is not None:
        number = decoded
    if number.lower() in WITHHELD or not any(ch.isdigit() for ch in number):
        return None
    return number


def _clip_number(value: str) -> str | None:
    parts = fields(value)
    if len(parts) >= 6 and parts[5] in _CLI_HIDDEN:
        return None
    return caller_number(parts[0])


def _key(profile: Profile, value: str, text: str) -> Signal:
    first = value.split(",")[0].strip()
    if profile.dtmf_style == "ascii":
        key = chr(int(first)) if first.isdigit() and int(first) < 128 else ""
    else:
        key = first.upper() if len(first) == 1 else ""
    if key and key in KEYS:
        return Key(key)
    return Other(text, malformed=True)


def _call_state(style: str, value: str) -> Signal:
    parts = fields(value)
    if style == "ccinfo":  # <idx>,<dir>,<state>,<mode>,<mpty>,"<number>",<type>
        direction, state = parts[1], _CCINFO_STATES.get(parts[2], "other")
    else:  # +CLCC: <idx>,<dir>,<stat>,<mode>,<mpty>[,"<number>",<type>]
        direction, state = parts[1], _CLCC_STATES.get(parts[2], "other")
    if not parts[0].isdigit():
        raise ValueError(value)
    number = caller_number(parts[5]) if len(parts) > 5 else None
    return CallState(state, number, incoming=direction == "1")


def _ucs2_digits(text: str) -> str | None:
    if len(text) < 12 or len(text) % 4 or any(ch not in "0123456789abcdefABCDEF" for ch in text):
        return None
    try:
        decoded = bytes.fromhex(text).decode("utf-16-be")
    except ValueError:
        return None
    return decoded if decoded and all(ch.isdigit() or ch == "+" for ch in decoded) else None
