"""One key per press across the modem's reports and our in-band receiver (drivers/serialmodem/keymerge.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivers.dtmf import DtmfDetector
from drivers.serialmodem.faraudio import FarAudio
from drivers.serialmodem.keymerge import INBAND, MODEM, InbandKeys, PressMerger


def test_a_press_reported_both_ways_counts_once_in_either_order() -> None:
    keys = PressMerger(window_s=0.6)
    assert keys.accept("5", MODEM, 10.00)
    assert not keys.accept("5", INBAND, 10.02, 10.12)  # the tones of the same press
    assert keys.accept("7", INBAND, 11.00, 11.10)
    assert not keys.accept("7", MODEM, 11.30)  # a late report
    assert keys.summary() == "2 key(s) from in-band 2, modem 2; 2 copies dropped"


def test_the_same_key_twice_from_one_source_is_two_presses_and_pairs_up_press_by_press() -> None:
    keys = PressMerger(window_s=0.6)
    assert keys.accept("1", MODEM, 0.00)
    assert keys.accept("1", MODEM, 0.25)  # people do press 1 1
    assert not keys.accept("1", INBAND, 0.00, 0.10)
    assert not keys.accept("1", INBAND, 0.25, 0.35)
    assert keys.accept("1", INBAND, 5.00, 5.10)  # far from any report: a press the modem missed


def test_reports_far_apart_are_separate_presses() -> None:
    keys = PressMerger(window_s=0.6)
    assert keys.accept("3", MODEM, 0.0)
    assert keys.accept("3", INBAND, 1.0, 1.1)


@dataclass
class Heard:
    key: str
    start: float
    end: float


class Recorder:
    def __init__(self, presses: list[Heard]) -> None:
        self.presses = presses
        self.fed = 0

    def feed(self, samples: bytes) -> list[Heard]:
        self.fed += len(samples)
        presses, self.presses = self.presses, []
        return presses


def test_inband_presses_are_put_on_the_arrival_clock_and_odd_reads_are_joined() -> None:
    recorder = Recorder([Heard("8", 0.5, 0.6)])
    inband = InbandKeys(recorder, speed=10.0)  # a simulator at 10x: one second of audio arrives in 0.1 s
    (press,) = inband.feed(b"\x00" * 16001, arrived=100.0)
    assert recorder.fed == 16000  # the odd byte waits for its other half
    assert press.key == "8"
    assert abs(press.start - (100.0 - 0.1 + 0.05)) < 1e-9 and abs(press.end - (100.0 - 0.1 + 0.06)) < 1e-9
    assert inband.feed(b"\x00", arrived=100.1) == [] and recorder.fed == 16002


def test_the_real_detector_hears_the_simulated_callers_keys() -> None:
    far = FarAudio()
    end = 800
    for key in "80123":
        end = far.key(key, end) + 800
    pcm = np.round(far.render(0, end + 1600)).astype("<i2").tobytes()
    inband = InbandKeys(DtmfDetector(rate=8000))
    presses = [p for i in range(0, len(pcm), 321) for p in inband.feed(pcm[i:i + 321], arrived=i / 16000)]
    assert "".join(p.key for p in presses) == "80123"
    assert all(p.end > p.start for p in presses)
