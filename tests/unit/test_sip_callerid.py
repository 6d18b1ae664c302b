"""Caller ID from an INVITE: P-Asserted-Identity, else Remote-Party-ID, else From; trusted peers only."""
from __future__ import annotations

import pytest

from drivers.sip.callerid import caller_id, is_trusted, number_of
from drivers.sip.message import parse

TRUSTED = ["192.0.2.10", "10.1.0.0/24"]


def invite(*headers: str) -> list[tuple[str, str]]:
    text = "INVITE sip:bhxh@box SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nCall-ID: a\r\n"
    text += "".join(h + "\r\n" for h in headers) + "Content-Length: 0\r\n\r\n"
    return parse(text.encode()).headers


def test_pai_wins_over_rpid_and_from() -> None:
    headers = invite('From: "Nguyen" <sip:0999999999@gw>;tag=1', "Remote-Party-ID: <sip:0888888888@gw>",
                     "P-Asserted-Identity: <sip:0912345678@gw;user=phone>")
    assert caller_id(headers, "192.0.2.10", TRUSTED) == "0912345678"


def test_rpid_then_from() -> None:
    assert caller_id(invite("From: <sip:0999@gw>;tag=1", "Remote-Party-ID: <sip:+84912345678@gw>;party=calling"),
                     "192.0.2.10", TRUSTED) == "+84912345678"
    assert caller_id(invite("From: <sip:0912-345-678@gw>;tag=1"), "10.1.0.7", TRUSTED) == "0912345678"


def test_tel_uri_and_second_pai() -> None:
    headers = invite("From: <sip:x@gw>;tag=1", "P-Asserted-Identity: <sip:anonymous@anonymous.invalid>",
                     "P-Asserted-Identity: <tel:+84912345678;phone-context=vn>")
    assert caller_id(headers, "192.0.2.10", TRUSTED) == "+84912345678"


@pytest.mark.parametrize("headers", [
    ('From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=1',),
    ("From: <sip:0912345678@gw>;tag=1", "Privacy: id"),
    ("From: <sip:0912345678@gw>;tag=1", "P-Asserted-Identity: <sip:0912345678@gw>", "Privacy: header;id"),
    ("From: <sip:0912345678@gw>;tag=1", "Remote-Party-ID: <sip:0912345678@gw>;privacy=full"),
    ("From: <sip:restricted@gw>;tag=1",),
    ("From: <sip:gw>;tag=1",),
])
def test_withheld(headers: tuple[str, ...]) -> None:
    assert caller_id(invite(*headers), "192.0.2.10", TRUSTED) is None


def test_privacy_none_keeps_the_number() -> None:
    assert caller_id(invite("From: <sip:0912345678@gw>;tag=1", "Privacy: none"), "192.0.2.10", TRUSTED) == "0912345678"


def test_an_untrusted_peer_is_never_believed() -> None:
    headers = invite("From: <sip:0912345678@gw>;tag=1", "P-Asserted-Identity: <sip:0912345678@gw>")
    assert caller_id(headers, "198.51.100.7", TRUSTED) is None
    assert caller_id(headers, None, TRUSTED) is None
    assert caller_id(headers, "192.0.2.10", []) is None


def test_trust_rules() -> None:
    assert is_trusted("10.1.0.255", TRUSTED) and not is_trusted("10.1.1.1", TRUSTED)
    assert not is_trusted("not-an-ip", TRUSTED) and not is_trusted("192.0.2.10", ["gw.example"])
    assert number_of("<sip:%2B84912345678@gw>") == "+84912345678"
