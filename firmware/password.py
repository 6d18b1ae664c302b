"""New passwords: 8 characters from 0-9 and h k m x with 1 to 3 letters, and how they are spoken.

Why these letters and this shape: ../shared/reference/voice/REPORT.md §2 (no vowels, no d or w, so no Vietnamese
keyboard mode can change the password as it is typed; letter names that a phone line does not blur).
"""
from __future__ import annotations

import secrets

DIGITS = "0123456789"
LETTERS = "hkmx"
ALPHABET = DIGITS + LETTERS
LENGTH = 8
MIN_LETTERS, MAX_LETTERS = 1, 3

#: prompt id of each character's spoken unit
UNIT_IDS = {**{d: f"d{d}" for d in DIGITS}, **{c: f"l_{c}" for c in LETTERS}}
PAUSE_CHAR = "pause_char"
PAUSE_GROUP = "pause_group"


def generate() -> str:
    """A uniformly chosen password of the scheme (rejection sampling keeps it uniform over the scheme)."""
    while True:
        candidate = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        if is_valid(candidate):
            return candidate


def is_valid(password: str) -> bool:
    letters = sum(ch in LETTERS for ch in password)
    return (
        len(password) == LENGTH
        and all(ch in ALPHABET for ch in password)
        and MIN_LETTERS <= letters <= MAX_LETTERS
    )


def spoken(password: str) -> tuple[str, ...]:
    """Prompt ids for one reading: two groups of four, a short pause between characters, a longer between groups."""
    units: list[str] = []
    for index, ch in enumerate(password):
        if index:
            units.append(PAUSE_GROUP if index == LENGTH // 2 else PAUSE_CHAR)
        units.append(UNIT_IDS[ch])
    return tuple(units)
