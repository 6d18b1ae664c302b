"""URCs read through each profile, and the call tracker: caller ID, keys once each, one hang-up per call."""
from __future__ import annotations

import pytest

from drivers.gsm.calls import ACTIVE, IDLE, CallTracker
from drivers.gsm.codec import Urc, UrcTable
from drivers.gsm.profiles import EC25, SIM800, SIM7600, Profile
from drivers.gsm.signals import (CallEnded, CallerId, CallState, Key, Other, PlaybackEnded, Rebooted, Ring, fields,
                                 interpret)
from drivers.line import IncomingCall, KeyPressed, RemoteHangup


def urc(profile: Profile, text: str) -> Urc:
    prefix = UrcTable(profile.urcs).match(text)
    assert prefix is not None, text
    return Urc(prefix, text)


def read(profile: Profile, text: str):  # type: ignore[no-untyped-def]
    return interpret(profile, urc(profile, text))


@pytest.mark.parametrize(("profile", "text", "key"), [
    (EC25, "+QTONEDET: 56", "8"), (EC25, "+QTONEDET: 35", "#"), (EC25, "+QTONEDET: 42", "*"),
    (SIM7600, "+RXDTMF: 8", "8"), (SIM7600, "+RXDTMF: #", "#"), (SIM800, "+DTMF: 5", "5"),
    (SIM800, "+DTMF: 0,140", "0"),
])
def test_keys_per_profile(profile: Profile, text: str, key: str) -> None:
    assert read(profile, text) == Key(key)


@pytest.mark.parametrize(("profile", "text"), [
    (EC25, "+QTONEDET: 999"), (EC25, "+QTONEDET:"), (SIM800, "+DTMF:1400"), (SIM7600, "+RXDTMF: 12"),
])
def test_malformed_key_reports_are_other(profile: Profile, text: str) -> None:
    sig = read(profile, text)
    assert isinstance(sig, Other) and sig.malformed


@pytest.mark.parametrize(("text", "number"), [
    ('+CLIP: "0912345678",129,"",0,"",0', "0912345678"),
    ('+CLIP: "+84912345678",145', "+84912345678"),
    ("+CLIP: 0912345678,129", "0912345678"),
    ('+CLIP: "",128,,,,1', None),
    ('+CLIP: "",128', None),
    ('+CLIP: "Restricted",128', None),
    ('+CLIP: "0912345678",129,"",0,"",1', None),  # CLI validity 1: withheld whatever the field says
    ('+CLIP: "0030003900310032003300340035003600370038",129', "0912345678"),  # UCS2 while an SMS went out
])
def test_caller_id_forms(text: str, number: str | None) -> None:
    assert read(EC25, text) == CallerId(number)


def test_call_state_reports() -> None:
    assert read(EC25, '+QIND: "ccinfo",1,1,4,0,0,"0912345678",129') == CallState("incoming", "0912345678")
    assert read(EC25, '+QIND: "ccinfo",1,1,-1,0,0,"0912345678",129').state == "released"  # type: ignore[union-attr]
    assert read(SIM7600, '+CLCC: 1,1,0,0,0,"0912345678",129').state == "active"  # type: ignore[union-attr]
    assert read(SIM7600, '+CLCC: 1,1,6,0,0,"",128') == CallState("released", None)
    assert read(EC25, '+QIND: "act","LTE"') == Other('+QIND: "act","LTE"')
    sig = read(EC25, '+QIND: "ccinfo",x,,')
    assert isinstance(sig, Other) and sig.malformed


def test_ends_rings_and_reboots() -> None:
    assert read(SIM7600, "VOICE CALL: END: 000012") == CallEnded("VOICE CALL: END: 000012")
    assert read(SIM7600, "MISSED_CALL: 08:48AM +84912345678").__class__ is CallEnded
    assert read(SIM7600, "VOICE CALL: BEGIN") == CallState("active")
    assert read(EC25, "NO CARRIER") == CallEnded("NO CARRIER")
    assert read(EC25, "+CRING: VOICE") == Ring()
    assert read(EC25, "+QPSND: 0") == PlaybackEnded()
    assert read(SIM7600, "+AUDIOSTATE: audio play stop") == PlaybackEnded()
    assert read(SIM7600, "+AUDIOSTATE: audio play") == Other("+AUDIOSTATE: audio play")
    assert read(SIM800, "+CREC: 0") == PlaybackEnded()
    assert read(SIM800, "Call Ready") == Rebooted("Call Ready")
    assert read(EC25, '+CMTI: "SM",3') == Other('+CMTI: "SM",3')


def test_fields_keep_quoted_commas() -> None:
    assert fields('"a,b",1,,"x"') == ["a,b", "1", "", "x"]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def tracker() -> tuple[CallTracker, Clock]:
    clock = Clock()
    return CallTracker("gsm0", clock, clip_wait_s=2.0, dedup_s=0.15), clock


def test_ring_then_caller_id_is_one_incoming_call() -> None:
    t, _ = tracker()
    assert t.signal(Ring()) == []
    assert t.signal(CallerId("0912345678")) == [IncomingCall("gsm0-1", "0912345678")]
    assert t.signal(Ring()) == [] and t.signal(CallerId("0912345678")) == []  # every further ring repeats it


def test_caller_id_before_ring_and_call_state_both_announce_once() -> None:
    t, _ = tracker()
    assert t.signal(CallState("incoming", "0912345678")) == [IncomingCall("gsm0-1", "0912345678")]
    assert t.signal(CallerId("0912345678")) == [] and t.signal(Ring()) == []


def test_no_caller_id_within_the_window_means_withheld() -> None:
    t, clock = tracker()
    t.signal(Ring())
    clock.t = 1.9
    assert t.poll() == []
    clock.t = 2.0
    assert t.poll() == [IncomingCall("gsm0-1", None)]


def test_keys_count_once_and_only_after_answer() -> None:
    t, clock = tracker()
    t.signal(CallerId("0912345678"))
    assert t.signal(Key("8")) == []  # not answered yet
    assert t.answering("gsm0-1") and t.answering("gsm0-1") is False
    t.answered()
    assert t.phase == ACTIVE
    assert t.signal(Key("8")) == [KeyPressed("gsm0-1", "8")]
    clock.t += 0.1
    assert t.signal(Key("8")) == []  # the same press reported again
    clock.t += 0.1
    assert t.signal(Key("8")) == []  # a long tone reported over and over is still one press
    clock.t += 0.2
    assert t.signal(Key("8")) == [KeyPressed("gsm0-1", "8")]  # a second press
    assert t.signal(Key("0")) == [KeyPressed("gsm0-1", "0")]  # another key at once


def test_one_remote_hangup_whatever_the_number_of_end_reports() -> None:
    t, _ = tracker()
    t.signal(CallerId("0912345678"))
    t.answering("gsm0-1")
    t.answered()
    assert t.signal(CallEnded("VOICE CALL: END: 000012")) == [RemoteHangup("gsm0-1")]
    assert t.signal(CallEnded("NO CARRIER")) == []
    assert t.signal(CallState("released")) == [] and t.phase == IDLE


def test_our_hang_up_raises_no_event_and_the_next_call_gets_a_new_id() -> None:
    t, _ = tracker()
    t.signal(CallerId(None))
    t.end_by_box()
    assert t.signal(CallState("released")) == []
    assert t.signal(CallerId("0987000111")) == [IncomingCall("gsm0-2", "0987000111")]


def test_ringing_that_stops_before_caller_id_raises_nothing() -> None:
    t, _ = tracker()
    t.signal(Ring())
    assert t.signal(CallEnded("MISSED_CALL: 10:00AM Unknown")) == [] and t.phase == IDLE
