"""DTMF over SIP INFO and the one-key-per-press rule."""
from __future__ import annotations

import pytest

from drivers.sip.dtmf import KeyDeduper, key_from_info, relay_body

RFC4733, INFO = 0, 1


@pytest.mark.parametrize(("ctype", "body", "key"), [
    ("application/dtmf-relay", "Signal=8\r\nDuration=160\r\n", "8"),
    ("Application/DTMF-Relay", "signal= 5\nduration=100", "5"),
    ("application/dtmf-relay", "Signal=*\r\n", "*"),
    ("application/dtmf-relay", "Signal=11\r\nDuration=250", "#"),
    ("application/dtmf", "8", "8"),
    ("application/dtmf", "10\r\n", "*"),
    ("application/dtmf", "", None),
    ("application/dtmf-relay", "Signal=Z", None),
    ("application/media_control+xml", "<x/>", None),
])
def test_info_bodies(ctype: str, body: str, key: str | None) -> None:
    assert key_from_info(ctype, body) == key


def test_the_relay_body_is_the_shape_pjsua_reads() -> None:
    assert relay_body("#") == b"Signal=#\r\nDuration=160\r\n"


def test_one_key_per_press_across_methods() -> None:
    keys = KeyDeduper()
    assert keys.accept("5", RFC4733, 10.00)
    assert not keys.accept("5", INFO, 10.05)  # the gateway signalled the same press both ways
    assert keys.accept("5", RFC4733, 10.30)  # a second press of the same key
    assert keys.accept("5", RFC4733, 10.31)  # same method: always a new press
    assert keys.accept("6", INFO, 10.32)
    assert keys.accept("6", RFC4733, 10.90)  # outside the window: a new press


def test_the_worker_call_listens_to_ondtmfdigit_only() -> None:
    pytest.importorskip("pjsua2")
    from drivers.sip.calls import BoxCall

    assert "onDtmfDigit" in vars(BoxCall) and "onDtmfEvent" not in vars(BoxCall)  # both would count twice
