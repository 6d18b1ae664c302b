"""The SIP codec: compact headers, split Via lists, Content-Length, TCP framing."""
from __future__ import annotations

import pytest

from drivers.sip.message import SipParseError, StreamFramer, Via, parse, tag_of, uri_host_port

RAW = (b"INVITE sip:bhxh@192.0.2.1:5070 SIP/2.0\r\n"
       b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa, SIP/2.0/TCP [2001:db8::1]:5062;branch=z9hG4bKb;rport\r\n"
       b"f: <sip:0912345678@gw>;tag=abc\r\nt: <sip:bhxh@box>\r\ni: call-1\r\nCSeq: 1 INVITE\r\n"
       b"Subject: folded\r\n  line\r\nl: 4\r\n\r\nbodyEXTRA")


def test_parse_expands_compact_forms_and_splits_vias() -> None:
    msg = parse(RAW)
    assert msg.is_request and msg.method == "INVITE" and msg.call_id == "call-1"
    assert len(msg.get_all("Via")) == 2 and msg.body == b"body"
    assert msg.get("Subject") == "folded line" and tag_of(msg.get("From") or "") == "abc"
    via = Via.parse(msg.get_all("Via")[1])
    assert (via.protocol, via.host, via.port, via.has("rport")) == ("TCP", "[2001:db8::1]", 5062, True)


def test_round_trip_recomputes_content_length() -> None:
    msg = parse(RAW)
    msg.body = b"longer body"
    again = parse(msg.to_bytes())
    assert again.get("Content-Length") == "11" and again.body == b"longer body"
    assert again.get_all("Via") == msg.get_all("Via")


def test_via_reply_address_follows_received_and_rport() -> None:
    via = Via.parse("SIP/2.0/UDP gw.example:5062;branch=z9hG4bK1;rport=40000;received=192.0.2.9")
    assert via.reply_address() == ("192.0.2.9", 40000)
    assert Via.parse("SIP/2.0/UDP 192.0.2.9;branch=z").reply_address() == ("192.0.2.9", 5060)


def test_responses_and_uris() -> None:
    msg = parse(b"SIP/2.0 486 Busy Here\r\nCSeq: 7 INVITE\r\nContent-Length: 0\r\n\r\n")
    assert not msg.is_request and msg.status == 486 and msg.method == "INVITE"
    assert uri_host_port("<sip:box@127.0.0.1:5071;lr>") == ("127.0.0.1", 5071)
    assert uri_host_port("sip:registrar.example") == ("registrar.example", 5060)


@pytest.mark.parametrize("data", [b"hello", b"GET / HTTP/1.1\r\n\r\n", b"INVITE x SIP/2.0\r\nno colon\r\n\r\n"])
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse(data)


def test_stream_framing() -> None:
    framer = StreamFramer()
    one = b"OPTIONS sip:x SIP/2.0\r\nContent-Length: 2\r\n\r\nab"
    assert framer.feed(b"\r\n\r\n" + one[:10]) == []
    assert framer.feed(one[10:] + one[:5]) == [one]
    assert framer.feed(one[5:]) == [one]
    with pytest.raises(SipParseError):
        StreamFramer().feed(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
