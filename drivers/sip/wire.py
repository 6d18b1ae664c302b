"""What the line and its pjsua2 workers say to each other: one JSON object per line over a pipe.

Line → worker (stdin): the settings first, then commands `{"op": "answer"|"play"|"stop"|"hangup"|"close", ...}`.
Worker → line (a pipe of its own, never stdout, where pjlib prints): events `{"ev": "ready"|"incoming"|"key"|
"played"|"hangup"|"ended"|"log"|"closed", ...}`. Numbers never travel in "log" events unmasked.
"""
from __future__ import annotations

import json
import re
from typing import Any

Message = dict[str, Any]
MAX_LINE = 1 << 20
_LONG_NUMBER = re.compile(r"\d{7,}")


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


class LineDecoder:
    """Bytes from a pipe → complete JSON messages; a garbled line is skipped, not fatal."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Message]:
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_LINE:
            self._buffer = b""
        messages: list[Message] = []
        for line in lines:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                messages.append(value)
        return messages


def mask_numbers(text: str) -> str:
    """Any run of seven or more digits keeps only its last two (pjsua log lines can carry SIP URIs)."""
    return _LONG_NUMBER.sub(lambda m: "*" * (len(m.group()) - 2) + m.group()[-2:], text)
