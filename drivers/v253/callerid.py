"""Caller-ID reports, read tolerantly: a malformed date or a garbled line is logged and skipped, never fatal
(callattendant crashed on one, thess #107/#78).

Formatted (`AT+VCID=1`): one `TAG = value` line each, spaces around `=` optional: `DATE = MMDD`, `TIME = HHMM`,
`NMBR = <digits>` or `P` (private) / `O` (unavailable), `NAME = ...`, `MESG = <hex>`. Unformatted (`AT+VCID=2`, or
a stick that reports the packet anyway): one line of hex, an SDMF (0x04) or MDMF (0x80) message without the
channel-seizure bytes. Numbers are never logged in clear.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_TAG = re.compile(r"^\s*(DATE|TIME|NMBR|NAME|MESG|DDN_NMBR)\s*=\s*(.*?)\s*$", re.IGNORECASE)
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2}){6,}$")
_NUMBER = re.compile(r"^\+?\d{3,20}$")
_PRIVATE = {"P", "PRIVATE"}
_UNAVAILABLE = {"O", "OUT OF AREA", "UNAVAILABLE"}


@dataclass(frozen=True)
class CidField:
    tag: str  # DATE, TIME, NMBR, NAME, MESG, DDN_NMBR
    value: str


@dataclass
class CallerIdRecord:
    """What one caller-ID report said; `number` is None when withheld, unavailable, absent or unreadable."""

    number: str | None = None
    absence: str | None = None  # "private", "unavailable", "malformed" when NMBR came without a usable number
    date: str | None = None  # MMDD, only when it is a real date
    time: str | None = None  # HHMM, only when it is a real time
    name: str | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def has_number_field(self) -> bool:
        return "NMBR" in self.tags

    def add(self, item: CidField) -> None:
        self.tags.append(item.tag)
        value = item.value
        if item.tag == "NMBR":
            self.number, self.absence = read_number(value)
        elif item.tag == "DATE":
            self.date = _checked(value, _valid_date, "date")
        elif item.tag == "TIME":
            self.time = _checked(value, _valid_time, "time")
        elif item.tag == "NAME":
            self.name = value or None
        elif item.tag == "MESG":
            log.info("caller ID: MESG = %s (a tag the modem does not know, or a seizure without a packet)", value[:40])


def parse_line(text: str) -> CidField | None:
    """One formatted caller-ID line, or None when the line is not one."""
    found = _TAG.match(text)
    if found is None:
        return None
    return CidField(found.group(1).upper(), found.group(2))


def is_hex_packet(text: str) -> bool:
    return bool(_HEX.match(text.strip()))


def read_number(value: str) -> tuple[str | None, str | None]:
    """(number, absence): `"0912345678"` → (number, None); `P` → (None, "private"); `O` → (None, "unavailable")."""
    cleaned = value.strip().strip('"').upper()
    if cleaned in _PRIVATE:
        return None, "private"
    if cleaned in _UNAVAILABLE:
        return None, "unavailable"
    digits = re.sub(r"[\s\-.()]", "", cleaned)
    if _NUMBER.match(digits):
        return digits, None
    log.warning("caller ID: unreadable number (%d characters) treated as withheld", len(value))
    return None, "malformed"


def parse_hex_packet(text: str) -> CallerIdRecord | None:
    """An SDMF/MDMF message in hex (unformatted caller ID); None when it is not one we can read."""
    try:
        data = bytes.fromhex(text.strip())
    except ValueError:
        return None
    if len(data) < 3 or data[1] + 2 > len(data):
        return None
    kind, body = data[0], data[2:2 + data[1]]
    record = CallerIdRecord()
    if kind == 0x04:  # SDMF: MMDDHHMM then the number (or P / O)
        stamp = body[:8].decode("latin-1")
        record.add(CidField("DATE", stamp[:4]))
        record.add(CidField("TIME", stamp[4:8]))
        record.add(CidField("NMBR", body[8:].decode("latin-1")))
        return record
    if kind == 0x80:  # MDMF: (type, length, value) parameters
        pos = 0
        while pos + 2 <= len(body):
            ptype, plen = body[pos], body[pos + 1]
            value = body[pos + 2:pos + 2 + plen].decode("latin-1")
            pos += 2 + plen
            if ptype == 0x01:
                record.add(CidField("DATE", value[:4]))
                record.add(CidField("TIME", value[4:8]))
            elif ptype in (0x02, 0x04):  # number, or the reason it is absent
                record.add(CidField("NMBR", value))
            elif ptype == 0x07:
                record.add(CidField("NAME", value))
        return record if record.tags else None
    return None


def _checked(value: str, valid: Callable[[str], bool], what: str) -> str | None:
    text = value.strip()
    if valid(text):
        return text
    log.warning("caller ID: malformed %s %r ignored", what, text[:16])
    return None


def _valid_date(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and 1 <= int(text[:2]) <= 12 and 1 <= int(text[2:]) <= 31


def _valid_time(text: str) -> bool:
    return len(text) == 4 and text.isdigit() and int(text[:2]) <= 23 and int(text[2:]) <= 59
