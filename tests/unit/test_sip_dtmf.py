"""DTMF over SIP INFO, in-band tones, and the one-key-per-press rule."""
from __future__ import annotations

import numpy as np
import pytest

from drivers.dtmf import DtmfEvent
from drivers.sip.dtmf import (
    INBAND, INBAND_SAME_PRESS_S, INFO, RFC4733, InbandKeys, KeyDeduper, key_from_info, new_inband_detector, relay_body,
    tone_pcm,
)


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


# -- one key per press with in-band: spans of tones against moments of out-of-band reports -----------------------
def test_an_in_band_copy_of_an_rfc4733_press_is_dropped() -> None:
    keys = KeyDeduper()
    assert keys.accept("5", RFC4733, 10.00)  # the event arrives as the tones start...
    assert not keys.accept("5", INBAND, 10.04, 10.14)  # ...the detector reports the same press on release
    assert keys.accept("5", INBAND, 10.40, 10.50)  # in-band again: a second press
    assert not keys.accept("5", RFC4733, 10.41)  # and its event


def test_info_sent_on_key_up_after_the_in_band_report_is_dropped() -> None:
    keys = KeyDeduper()
    assert keys.accept("7", INBAND, 5.00, 5.10)
    assert not keys.accept("7", INFO, 5.30)  # 0.2 s after the tones ended: within INBAND_SAME_PRESS_S


def test_a_held_key_is_one_press_however_long_the_tones() -> None:
    keys = KeyDeduper()
    assert keys.accept("0", RFC4733, 1.00)
    assert not keys.accept("0", INBAND, 1.05, 2.60)  # reported 1.6 s after the event: its tones started with it


def test_fast_repeats_signalled_both_ways_pair_up_press_by_press() -> None:
    keys = KeyDeduper()
    accepted = [keys.accept("1", RFC4733, 0.00), keys.accept("1", RFC4733, 0.20),  # "1 1", 100 ms apart
                keys.accept("1", INBAND, 0.05, 0.15), keys.accept("1", INBAND, 0.25, 0.35)]
    assert accepted == [True, True, False, False]


def test_copies_are_matched_to_their_own_key_across_other_keys() -> None:
    keys = KeyDeduper()
    assert keys.accept("5", RFC4733, 0.00)
    assert keys.accept("6", RFC4733, 0.12)  # the next key's event comes before the first key's tones are judged
    assert not keys.accept("5", INBAND, 0.03, 0.11)
    assert not keys.accept("6", INBAND, 0.15, 0.25)


def test_far_apart_reports_are_two_presses_and_three_methods_one() -> None:
    keys = KeyDeduper()
    assert keys.accept("9", INBAND, 0.00, 0.10)
    assert keys.accept("9", RFC4733, 0.10 + INBAND_SAME_PRESS_S + 0.01)  # too late to be the same press
    assert keys.accept("3", RFC4733, 3.00)
    assert not keys.accept("3", INFO, 3.05)
    assert not keys.accept("3", INBAND, 3.02, 3.12)
    assert keys.summary() == "3 key(s) from in-band 2, rfc4733 2, info 1; 2 copies dropped"


# -- the in-band receiver ------------------------------------------------------------------------------------------
class FakeDetector:
    """Reports one press, stream seconds 0.10-0.20, once 0.3 s of audio has been fed."""

    def __init__(self) -> None:
        self.samples = 0

    def feed(self, samples: bytes) -> list[DtmfEvent]:
        before, self.samples = self.samples, self.samples + len(samples) // 2
        return [DtmfEvent("4", 0.10, 0.20)] if before < 2400 <= self.samples else []


def test_in_band_presses_are_placed_on_the_workers_clock() -> None:
    inband = InbandKeys(FakeDetector())
    frame = bytes(320)  # 20 ms
    assert inband.feed([(100.02 + 0.02 * i, frame) for i in range(10)]) == []
    [press] = inband.feed([(100.22 + 0.02 * i, frame) for i in range(5)])  # 0.3 s fed, the last at 100.30
    assert press.key == "4"
    assert press.start == pytest.approx(100.10) and press.end == pytest.approx(100.20)


def test_generated_tones_decode_through_the_receiver_in_20_ms_frames() -> None:
    pcm = bytes(1600) + b"".join(tone_pcm(key) for key in "80123456789*#ABCD")
    inband = InbandKeys(new_inband_detector())
    presses = []
    for i, at in enumerate(range(0, len(pcm), 320)):
        presses += inband.feed([(50.0 + 0.02 * (i + 1), pcm[at:at + 320])])
    assert "".join(p.key for p in presses) == "80123456789*#ABCD"
    assert all(0.09 <= p.end - p.start <= 0.11 for p in presses)  # 100 ms of tones each
    assert presses[0].start == pytest.approx(50.1, abs=0.01)  # after 100 ms of silence


def test_tone_levels_and_timing() -> None:
    samples = np.frombuffer(tone_pcm("1", tone_s=0.1, gap_s=0.1), dtype="<i2").astype(float)
    assert len(samples) == 1600 and not samples[800:].any()
    per_tone_rms = np.sqrt(np.mean(samples[:800] ** 2) / 2)  # two tones of equal level
    assert 20 * np.log10(per_tone_rms * np.sqrt(2) / 32767) == pytest.approx(-10.0, abs=0.1)
    with pytest.raises(ValueError):
        tone_pcm("E")


def test_tap_frames_are_copied_exactly() -> None:
    pytest.importorskip("pjsua2")
    import pjsua2 as pj

    from drivers.sip.tap import _frame_copier

    copy = _frame_copier()
    payload = bytes(range(256)) * 2
    assert copy(pj.ByteVector(payload)) == payload
    assert copy(pj.ByteVector(b"")) == b""
