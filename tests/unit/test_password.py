"""New passwords: the scheme callers can type on any Vietnamese keyboard, and how it is read out."""
from __future__ import annotations

import collections

from firmware import password as pw


def test_generated_passwords_follow_the_scheme() -> None:
    samples = [pw.generate() for _ in range(2000)]
    assert all(pw.is_valid(p) for p in samples)
    letters = collections.Counter(sum(ch in pw.LETTERS for ch in p) for p in samples)
    assert set(letters) == {1, 2, 3}  # every allowed count occurs
    assert len(set(samples)) > 1990  # not a fixed or tiny set


def test_no_character_a_vietnamese_input_method_would_change() -> None:
    chars = set("".join(pw.generate() for _ in range(500)))
    assert chars <= set("0123456789hkmx")
    assert not chars & set("aeiouydwsfrjz")


def test_spoken_in_two_groups_of_four() -> None:
    assert pw.spoken("4h7k2905") == (
        "d4", "pause_char", "l_h", "pause_char", "d7", "pause_char", "l_k",
        "pause_group",
        "d2", "pause_char", "d9", "pause_char", "d0", "pause_char", "d5",
    )


def test_invalid_passwords_are_rejected() -> None:
    for bad in ("12345678", "hkmxhkmx", "4h7k290", "4h7k29055", "4a7k2905"):
        assert not pw.is_valid(bad)
