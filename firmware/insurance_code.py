"""The social insurance code (mã số BHXH) a caller keys in or a CSV export carries.

Format rule (an assumption, not a published specification): a code is exactly 10
ASCII digits, and its first two digits (the province of issue) are not ``"00"``.
No public check digit or checksum is known for mã số BHXH, so none is verified;
the snapshot lookup is what finally decides whether a code exists.
Messages never carry the code itself: it identifies a person.
"""

from __future__ import annotations

import logging
from typing import Final, Literal

from firmware import FirmwareError

logger = logging.getLogger(__name__)

CODE_LENGTH: Final = 10
_UNISSUED_PROVINCE: Final = "00"

Reason = Literal["length", "format"]


class InsuranceCodeError(FirmwareError):
    """An entry that is not a mã số BHXH; ``reason`` is ``"length"`` or ``"format"``."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def check_code(entry: str) -> str:
    """The 10-digit code in ``entry`` (whitespace ignored), or InsuranceCodeError.

    ``reason="length"`` when the entry does not have 10 characters once whitespace is
    removed; ``reason="format"`` when it has 10 but they are not all ASCII digits or the
    province digits are ``"00"``.
    """
    code = "".join(entry.split())
    if len(code) != CODE_LENGTH:
        raise InsuranceCodeError(
            f"insurance code must have {CODE_LENGTH} digits, got {len(code)}", "length"
        )
    if not (code.isascii() and code.isdigit()):
        raise InsuranceCodeError("insurance code must contain digits only", "format")
    if code.startswith(_UNISSUED_PROVINCE):
        raise InsuranceCodeError("insurance code cannot start with province 00", "format")
    return code


def is_valid_code(entry: str) -> bool:
    """True if ``check_code(entry)`` would succeed."""
    try:
        check_code(entry)
    except InsuranceCodeError:
        return False
    return True


def mask_code(code: str) -> str:
    """A loggable form, ``"01******89"``: first two and last two characters kept.

    Anything shorter than 10 characters is masked entirely.
    """
    text = "".join(code.split())
    if len(text) < CODE_LENGTH:
        return "*" * max(len(text), 3)
    return text[:2] + "*" * (len(text) - 4) + text[-2:]
