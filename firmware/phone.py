"""Caller-ID normalisation: one canonical E.164 form for every way a number reaches us.

Caller IDs arrive from GSM modems (``+CLIP``), analog modems (V.253 ``NMBR=``), SIP
headers and CSV exports, written in every Vietnamese habit: ``+84…``, ``84…``,
``0084…``, ``0…``, bare national digits, with spaces, dots, dashes and parentheses.
Numbers from before the 2018 mobile renumbering (11-digit ``01xx…``) are mapped to
their 10-digit successors first, so an old export matches a caller ringing today.
Messages never carry a whole number: phone numbers are personal data.
"""

from __future__ import annotations

import logging
import re
from typing import Final

import phonenumbers

from firmware import FirmwareError

logger = logging.getLogger(__name__)

VN_COUNTRY_CODE: Final = "84"

# The 2018 renumbering of 11-digit mobile numbers (Ministry of Information and
# Communications plan, carried out September-November 2018), keyed by the old national
# significant prefix (without the trunk 0) -> the new one. The subscriber part is unchanged.
# tests/unit/test_phone.py checks every pair against phonenumbers' metadata.
RENUMBERED_MOBILE_PREFIXES: Final[dict[str, str]] = {
    # Viettel
    "162": "32", "163": "33", "164": "34", "165": "35",
    "166": "36", "167": "37", "168": "38", "169": "39",
    # MobiFone
    "120": "70", "121": "79", "122": "77", "126": "76", "128": "78",
    # VinaPhone
    "123": "83", "124": "84", "125": "85", "127": "81", "129": "82",
    # Vietnamobile
    "186": "56", "188": "58",
    # Gmobile
    "199": "59",
}

# What caller-ID sources put in place of a number when it is withheld or unknown.
# "P" and "O" are the V.253 NMBR values for private and out-of-area.
WITHHELD_MARKERS: Final = frozenset({
    "anonymous", "unknown", "restricted", "private", "unavailable", "withheld",
    "p", "o", "private number", "unknown number", "number withheld", "out of area",
    "outofarea", "not available", "presentation restricted",
})

_SEPARATORS: Final = re.compile(r"[\s.\-()/]+")
_URI: Final = re.compile(r"(?:sips?|tel):([^@;>]*)", re.IGNORECASE)
_MIN_DIGITS: Final = 7
_MAX_DIGITS: Final = 15


class PhoneNumberError(FirmwareError):
    """A caller ID or phone field that is not a usable phone number.

    ``reason`` is one of ``"withheld"``, ``"characters"``, ``"length"``, ``"invalid"``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _uri_user(raw: str) -> str | None:
    """The user part of a ``sip:``/``tel:`` URI inside ``raw``, or None if there is none."""
    found = _URI.search(raw)
    return found.group(1) if found else None


def is_withheld(raw: str | None) -> bool:
    """True if ``raw`` says "no number" (None, empty, anonymous, V.253 P/O, SIP anonymous)."""
    if raw is None:
        return True
    text = raw.strip()
    user = _uri_user(text)
    if user is not None:
        text = user
    text = " ".join(text.strip().strip("\"'<>").split()).lower()
    return text == "" or text in WITHHELD_MARKERS


def _mask_digits(digits: str) -> str:
    """Stars for every digit but the last two; all stars when too short to be safe."""
    if len(digits) <= 4:
        return "*" * max(len(digits), 3)
    return "*" * (len(digits) - 2) + digits[-2:]


def _international_digits(raw: str) -> tuple[bool, str]:
    """Strip separators and an URI wrapper; return (written with +/00, digits)."""
    text = raw.strip()
    user = _uri_user(text)
    if user is not None:
        text = user
    text = _SEPARATORS.sub("", text)
    plus = text.startswith("+")
    if plus:
        text = text[1:]
    if not text.isascii() or not text.isdigit():
        raise PhoneNumberError(
            "phone number contains characters other than digits and separators", "characters"
        )
    if not plus and text.startswith("00"):
        plus, text = True, text[2:]  # Vietnam's international call prefix
    if not _MIN_DIGITS <= len(text) <= _MAX_DIGITS:
        raise PhoneNumberError(f"phone number has {len(text)} digits", "length")
    return plus, text


def _vn_national_significant(plus: bool, digits: str) -> str | None:
    """The Vietnamese national significant number, or None for a foreign number."""
    if plus:
        if not digits.startswith(VN_COUNTRY_CODE):
            return None
        nsn = digits[2:]
    elif digits.startswith("0"):
        nsn = digits[1:]
    elif digits.startswith(VN_COUNTRY_CODE) and len(digits) >= 10:
        nsn = digits[2:]  # 84 + 8..10 national digits; no bare national number is that long
    else:
        nsn = digits  # bare national number, e.g. 912345678
    if nsn.startswith("0"):
        nsn = nsn[1:]  # "+84 (0) 912 …": the trunk 0 written after the country code
    if len(nsn) == 10 and nsn[:3] in RENUMBERED_MOBILE_PREFIXES:
        nsn = RENUMBERED_MOBILE_PREFIXES[nsn[:3]] + nsn[3:]
    return nsn


def normalise_phone(raw: str) -> str:
    """Canonical E.164 (``"+84912345678"``) for any accepted form; PhoneNumberError otherwise."""
    if is_withheld(raw):
        raise PhoneNumberError("phone number missing or withheld", "withheld")
    plus, digits = _international_digits(raw)
    nsn = _vn_national_significant(plus, digits)
    candidate = "+" + (digits if nsn is None else VN_COUNTRY_CODE + nsn)
    try:
        parsed = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        where = "Vietnamese" if nsn is not None else "international"
        raise PhoneNumberError(
            f"not a valid {where} phone number ({_mask_digits(digits)})", "invalid"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national_form(canonical: str) -> str:
    """``"+84912345678"`` -> ``"0912345678"``; numbers from other countries stay E.164."""
    e164 = normalise_phone(canonical)
    prefix = "+" + VN_COUNTRY_CODE
    return "0" + e164[len(prefix):] if e164.startswith(prefix) else e164


def mask_phone(raw_or_canonical: str | None) -> str:
    """A loggable form: ``"09******78"`` (national form, first 2 and last 2 digits kept).

    Withheld numbers read ``"anonymous"``; junk keeps at most its last two digits.
    """
    if raw_or_canonical is None or is_withheld(raw_or_canonical):
        return "anonymous"
    try:
        shown = national_form(raw_or_canonical)
    except PhoneNumberError:
        return _mask_digits("".join(c for c in raw_or_canonical if c.isascii() and c.isdigit()))
    lead = 3 if shown.startswith("+") else 2
    return shown[:lead] + "*" * (len(shown) - lead - 2) + shown[-2:]
