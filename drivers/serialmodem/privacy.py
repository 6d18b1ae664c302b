"""What may appear in a log: phone numbers and IMEIs masked (09******78), keys and SMS text never in clear."""
from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"\+?\d{7,}")
_HEX_RUN = re.compile(r"\b[0-9A-Fa-f]{16,}\b")


def mask_number(number: str | None) -> str:
    """`"0912345678"` → `"09******78"`; `"+84912345678"` → `"+84*******78"`; None or empty → `"anonymous"`."""
    if not number:
        return "anonymous"
    lead = 3 if number.startswith("+") else 2
    if len(number) <= lead + 2:
        return "*" * len(number)
    return number[:lead] + "*" * (len(number) - lead - 2) + number[-2:]


def redact(text: str, hidden_prefixes: tuple[str, ...] = ()) -> str:
    """A wire line fit for a log: digit runs of 7+ masked, long UCS2 hex runs hidden, values of `hidden_prefixes`
    (the profile's DTMF URC: a caller's insurance code arrives one key at a time) replaced by `*`."""
    for prefix in hidden_prefixes:
        if text.startswith(prefix):
            return f"{prefix} *"
    text = _HEX_RUN.sub(lambda m: f"<{len(m.group(0)) // 4} UCS2 chars>", text)
    return _DIGIT_RUN.sub(lambda m: mask_number(m.group(0)), text)
