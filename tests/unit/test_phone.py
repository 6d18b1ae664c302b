"""Caller IDs as modems, SIP and CSV exports write them become one E.164 form, or a clear error."""

from __future__ import annotations

import phonenumbers
import pytest

from firmware import FirmwareError
from firmware.phone import (
    RENUMBERED_MOBILE_PREFIXES,
    PhoneNumberError,
    is_withheld,
    mask_phone,
    national_form,
    normalise_phone,
)

# The 2018 renumbering as published (old 0-prefixed form -> new), written out again here
# so a typo in the module's table fails a test instead of silently mis-mapping callers.
RENUMBERING = {
    "0162": "032", "0163": "033", "0164": "034", "0165": "035",
    "0166": "036", "0167": "037", "0168": "038", "0169": "039",
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0186": "056", "0188": "058",
    "0199": "059",
}
SUBSCRIBER = "2345678"


def test_module_table_is_the_published_renumbering() -> None:
    assert {"0" + old: "0" + new for old, new in RENUMBERED_MOBILE_PREFIXES.items()} == RENUMBERING


@pytest.mark.parametrize("old,new", sorted(RENUMBERING.items()))
def test_renumbering_agrees_with_phonenumbers_metadata(old: str, new: str) -> None:
    before = phonenumbers.parse(old + SUBSCRIBER, "VN")
    after = phonenumbers.parse(new + SUBSCRIBER, "VN")
    assert not phonenumbers.is_valid_number(before), f"{old} should no longer be issued"
    assert phonenumbers.is_valid_number(after), f"{new} should be a valid prefix"
    assert phonenumbers.number_type(after) == phonenumbers.PhoneNumberType.MOBILE


def _old_forms(old: str) -> list[str]:
    nsn = old[1:] + SUBSCRIBER  # e.g. 1622345678
    return ["0" + nsn, "+84" + nsn, "84" + nsn, "0084" + nsn,
            f"+84 {nsn[:3]} {nsn[3:6]} {nsn[6:]}", f"0{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}"]


@pytest.mark.parametrize(
    "written,expected",
    [(form, "+84" + new[1:] + SUBSCRIBER) for old, new in sorted(RENUMBERING.items())
     for form in _old_forms(old)],
)
def test_old_11_digit_mobile_numbers_reach_their_successor(written: str, expected: str) -> None:
    assert normalise_phone(written) == expected


@pytest.mark.parametrize(
    "written",
    ["+84912345678", "84912345678", "0084912345678", "0912345678", "912345678",
     "+84 912 345 678", "091 234 5678", "0912.345.678", "0912-345-678", "(091) 234-5678",
     "+84 (0) 912 345 678", " 0912345678 ", "tel:+84912345678", "sip:0912345678@pbx.local"],
)
def test_every_accepted_form_of_a_mobile_number(written: str) -> None:
    assert normalise_phone(written) == "+84912345678"


@pytest.mark.parametrize(
    "written,expected",
    [
        ("024 3823 4567", "+842438234567"),      # Hà Nội, as an FXO line presents it
        ("02438234567", "+842438234567"),
        ("+84 24 3823 4567", "+842438234567"),
        ("842438234567", "+842438234567"),
        ("028 3822 1234", "+842838221234"),      # TP. Hồ Chí Minh
        ("0236 382 3456", "+842363823456"),      # Đà Nẵng
    ],
)
def test_vietnamese_landlines(written: str, expected: str) -> None:
    assert normalise_phone(written) == expected


@pytest.mark.parametrize(
    "written,expected",
    [("+1 415 555 2671", "+14155552671"), ("+44 7911 123456", "+447911123456"),
     ("0044 7911 123456", "+447911123456")],
)
def test_foreign_caller_ids_keep_their_own_country(written: str, expected: str) -> None:
    assert normalise_phone(written) == expected
    assert national_form(expected) == expected


@pytest.mark.parametrize(
    "junk,reason",
    [
        ("abc", "characters"),
        ("0912abc678", "characters"),
        ("123", "length"),
        ("+84 12", "length"),
        ("0912345678901234567", "length"),
        ("0992345678", "invalid"),      # 099 is not an issued prefix
        ("0437123456", "invalid"),      # pre-2017 Hà Nội landline form is not mapped
        ("+84 1922345678", "invalid"),  # 0192 was never a mobile prefix
        ("", "withheld"),
        ("anonymous", "withheld"),
    ],
)
def test_junk_is_refused_with_a_reason(junk: str, reason: str) -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalise_phone(junk)
    assert caught.value.reason == reason
    assert isinstance(caught.value, FirmwareError)


def test_error_message_never_echoes_the_number() -> None:
    with pytest.raises(PhoneNumberError) as caught:
        normalise_phone("0992345678")
    assert "0992345678" not in str(caught.value)
    assert "992345678" not in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "anonymous", "Anonymous", "ANONYMOUS", "unknown", "Restricted", "private",
     "unavailable", "withheld", "P", "O", "p", '"Anonymous" <sip:anonymous@anonymous.invalid>',
     "sip:anonymous@anonymous.invalid", "<sip:Anonymous@example.com>", "Private Number"],
)
def test_withheld_caller_ids(raw: str | None) -> None:
    assert is_withheld(raw)
    assert mask_phone(raw) == "anonymous"


@pytest.mark.parametrize("raw", ["0912345678", "+84912345678", "sip:+84912345678@pbx", "123", "Po"])
def test_numbers_are_not_withheld(raw: str) -> None:
    assert not is_withheld(raw)


@pytest.mark.parametrize(
    "canonical,national",
    [("+84912345678", "0912345678"), ("+842438234567", "02438234567"),
     ("+84362345678", "0362345678")],
)
def test_national_form(canonical: str, national: str) -> None:
    assert national_form(canonical) == national


@pytest.mark.parametrize(
    "raw,masked",
    [
        ("+84912345678", "09******78"),
        ("0912345678", "09******78"),
        ("01662345678", "03******78"),   # shown as the caller would dial it today
        ("024 3823 4567", "02*******67"),
        ("+447911123456", "+44********56"),
        ("0992345678", "********78"),    # invalid: only the last two digits survive
        ("123", "***"),
        ("abc", "***"),
        (None, "anonymous"),
        ("P", "anonymous"),
    ],
)
def test_masking(raw: str | None, masked: str) -> None:
    assert mask_phone(raw) == masked
