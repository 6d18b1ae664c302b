"""SipLine refuses bad settings by name, before any process or socket; the worker wire masks numbers."""
from __future__ import annotations

from pathlib import Path

import pytest

from drivers.sip import SipError, SipLine
from drivers.sip.wire import LineDecoder, encode, mask_numbers


class NoPrompts:
    def path(self, prompt_id: str) -> Path:
        return Path(f"/nowhere/{prompt_id}.wav")

    def duration(self, prompt_id: str) -> float:
        return 1.0

    def audio(self, prompt_id: str, fmt: str) -> bytes:
        return b""


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bind": "5070"}, "bind must be HOST:PORT"),
    ({"transport": "tls"}, "transport must be udp or tcp"),
    ({"max_calls": 0}, "max_calls"),
    ({"registrar": "sip:reg.example"}, "needs a user"),
    ({"trusted_peers": ["gw.example"]}, "trusted_peers entry 'gw.example'"),
])
def test_bad_settings_are_named(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"bind": "127.0.0.1:5070", **kwargs}
    bind = str(settings.pop("bind"))
    with pytest.raises(SipError, match=message):
        SipLine("sip0", bind, prompts=NoPrompts(), post=lambda fn: fn(), **settings)  # type: ignore[arg-type]


def test_an_in_band_line_is_accepted() -> None:
    SipLine("sip0", "127.0.0.1:5070", prompts=NoPrompts(), post=lambda fn: fn(), inband_dtmf=True)


def test_requests_for_unknown_calls_are_ignored_not_raised() -> None:
    line = SipLine("sip0", "127.0.0.1:0", prompts=NoPrompts(), post=lambda fn: fn())
    line.answer("sip0-0-1")
    line.hang_up("sip0-0-1")


def test_wire_round_trip_and_masking() -> None:
    decoder = LineDecoder()
    played = encode({"ev": "played"})
    data = encode({"ev": "key", "key": "8"}) + b"not json\n" + played[:5]
    assert decoder.feed(data) == [{"ev": "key", "key": "8"}]
    assert decoder.feed(played[5:]) == [{"ev": "played"}]
    assert mask_numbers("From sip:0912345678@gw port 5070") == "From sip:********78@gw port 5070"
