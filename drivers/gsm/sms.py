"""SMS in Vietnamese: 27.005 text mode with UCS2 (modems.md §4). With AT+CSCS="UCS2" every string parameter is
UCS2 hex, the destination number too; one UCS2 message holds 70 characters (longer needs PDU mode: not done)."""
from __future__ import annotations

import threading

from . import GsmError
from .engine import Command, Reply
from drivers.serialmodem.privacy import mask_number

MAX_CHARS = 70
CTRL_Z = b"\x1a"
ESC = b"\x1b"


class SmsError(GsmError):
    """The SMS was refused before or by the modem; the outbox retries it later."""


def ucs2(text: str) -> str:
    """UTF-16BE hex, 4 digits per character (BMP only: every Vietnamese letter is in it)."""
    if any(ord(ch) > 0xFFFF for ch in text):
        raise SmsError("the SMS text has characters outside UCS2 (emoji?)")
    return text.encode("utf-16-be").hex().upper()


def sms_commands(number: str, text: str, *, command_s: float, send_s: float) -> list[Command]:
    """Text mode, UCS2, validity 24 h with DCS 8 (UCS2), the message, then back to the GSM character set so the
    next +CLIP and file names read as plain text again. Raises SmsError for a text that cannot be one message."""
    digits = number.strip()
    if not digits or not all(ch.isdigit() for ch in digits.lstrip("+")):
        raise SmsError(f"not a phone number: {mask_number(digits)}")
    if not text:
        raise SmsError("empty SMS text")
    if len(text) > MAX_CHARS:
        raise SmsError(f"SMS text has {len(text)} characters; one UCS2 message holds {MAX_CHARS}")
    return [
        Command("AT+CMGF=1", command_s, retries=1),
        Command('AT+CSCS="UCS2"', command_s, retries=1),
        Command("AT+CSMP=17,167,0,8", command_s, retries=1),
        Command(f'AT+CMGS="{ucs2(digits)}"', send_s, payload=ucs2(text).encode("ascii"), payload_end=CTRL_Z,
                shown=f'AT+CMGS="{mask_number(digits)}" ({len(text)} characters)'),
        Command('AT+CSCS="GSM"', command_s, retries=1),
    ]


class SmsJob:
    """One send_sms waiting for the line's thread: the first failure wins, the last command ends it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: str | None = None

    def fail(self, why: str) -> None:
        self.error = why
        self.done.set()

    def step(self, reply: Reply, *, last: bool) -> None:
        if not reply.ok and self.error is None:
            self.error = reply.describe()
        if last:
            self.done.set()
