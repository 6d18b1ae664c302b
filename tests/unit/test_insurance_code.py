"""The 10-digit mã số BHXH as a caller keys it or an export writes it."""

from __future__ import annotations

import pytest

from firmware import FirmwareError
from firmware.insurance_code import InsuranceCodeError, check_code, is_valid_code, mask_code


@pytest.mark.parametrize(
    "entry,code",
    [
        ("0123456789", "0123456789"),
        ("7912345601", "7912345601"),
        (" 0123456789 ", "0123456789"),
        ("01 2345 6789", "0123456789"),
        ("0123456789\n", "0123456789"),
        ("0100000000", "0100000000"),
    ],
)
def test_valid_codes(entry: str, code: str) -> None:
    assert check_code(entry) == code
    assert is_valid_code(entry)


@pytest.mark.parametrize(
    "entry,reason",
    [
        ("", "length"),
        ("012345678", "length"),           # nine digits: the caller stopped early
        ("01234567890", "length"),         # eleven
        ("+84 123456789", "length"),
        ("0012345678", "format"),          # province 00 is never issued
        ("01234S6789", "format"),
        ("012345678#", "format"),
        ("０１２３４５６７８９", "format"),  # full-width digits are not ASCII
        ("٠١٢٣٤٥٦٧٨٩", "format"),          # nor are Arabic-Indic digits
    ],
)
def test_invalid_codes_say_why(entry: str, reason: str) -> None:
    with pytest.raises(InsuranceCodeError) as caught:
        check_code(entry)
    assert caught.value.reason == reason
    assert isinstance(caught.value, FirmwareError)
    assert not is_valid_code(entry)


def test_error_message_never_echoes_the_entry() -> None:
    for entry in ("0012345678", "012345678"):
        with pytest.raises(InsuranceCodeError) as caught:
            check_code(entry)
        assert entry not in str(caught.value)


@pytest.mark.parametrize(
    "code,masked",
    [("0123456789", "01******89"), ("7912345601", "79******01"), ("12345", "*****"), ("", "***")],
)
def test_masking(code: str, masked: str) -> None:
    assert mask_code(code) == masked
