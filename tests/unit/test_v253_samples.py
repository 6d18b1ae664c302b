"""Sample formats read from AT+VSM=? (never assumed), the conversions both ways, and one key per press."""
from __future__ import annotations

import array

import numpy as np
import pytest

from drivers.v253.keys import DETECTOR, MODEM, KeyGate, ModemKeys
from drivers.v253.samples import SampleDecoder, choose, decode_table, from_int16, parse_offers, to_int16
from drivers.v253.simdialects import DIALECTS
from voice_prompts.formats import encode

PREFERENCE = ("ulaw", "alaw", "u8", "s16le")


@pytest.mark.parametrize(("dialect", "fmt", "code"), [("usr5637", "ulaw", 131), ("cx93010", "u8", 1),
                                                      ("generic", "ulaw", 4)])
def test_each_sticks_list_is_read_and_the_best_format_chosen(dialect: str, fmt: str, code: int) -> None:
    offers = parse_offers(list(DIALECTS[dialect].offers))
    assert len(offers) == len(DIALECTS[dialect].offers)
    chosen = choose(offers, PREFERENCE)
    assert chosen is not None and (chosen.fmt, chosen.code) == (fmt, code)


def test_odd_listings_are_read_or_skipped() -> None:
    offers = parse_offers([
        '+VSM: 128,"8-BIT LINEAR",8,0,(7200-11025),(0),(0)',
        '133,"16-BIT LINEAR",16,0,(7200,11025),(0),(0)',  # no 8 kHz
        '0,"SIGNED PCM",8,0,(8000),(0),(0)',  # signed 8-bit: we cannot play it
        '140,"2-BIT ADPCM",2,0,(8000),(0),(0)',
        'garbage',
        '134,"G.729",8,0,(8000),(0),(0)',
    ])
    assert [(o.code, o.fmt) for o in offers] == [(128, "u8"), (133, "s16le"), (0, None), (140, None), (134, None)]
    assert not offers[1].offers_rate() and offers[0].offers_rate()
    assert choose(offers, ("s16le", "u8")) == offers[0]
    assert choose(parse_offers(["1,\"IMA ADPCM\",4,0,(8000),(0),(0)"]), PREFERENCE) is None


@pytest.mark.parametrize("fmt", ["ulaw", "alaw", "u8"])
def test_decoding_matches_the_prompt_encoder(fmt: str) -> None:
    ramp = np.linspace(-30000, 30000, 2001).astype(np.int16)
    encoded = encode(ramp.astype("<i2").tobytes(), fmt)  # what voice_prompts ships for this format
    decoded = to_int16(fmt, encoded).astype(int)
    error = np.abs(decoded - ramp.astype(int))
    assert error.max() <= (256 if fmt == "u8" else 1100)
    assert from_int16(fmt, decoded) == encoded  # our encoder picks the same code for a decoded level


def test_g711_tables_are_symmetric_and_silence_is_zero() -> None:
    for fmt, silence in (("ulaw", 0xFF), ("alaw", 0xD5), ("u8", 0x80)):
        table = decode_table(fmt)
        assert abs(int(table[silence])) <= 8  # A-law has no zero level: its silence is +8
        assert table.max() >= 32000 and table.min() <= -32000


def test_a_16_bit_sample_split_between_reads_is_kept() -> None:
    samples = array.array("h", [1000, -2, 3, 32767])
    data = samples.tobytes()
    decoder = SampleDecoder("s16le")
    out = np.concatenate([decoder.feed(data[:3]), decoder.feed(data[3:5]), decoder.feed(data[5:])])
    assert out.tolist() == [1000, -2, 3, 32767]


def test_modem_reports_framed_repeated_or_held_are_one_press_each() -> None:
    keys = ModemKeys(dedup_s=0.15)
    reports = [("/", 0.0), ("5", 0.0), ("5", 0.07), ("5", 0.14), ("~", 0.1), ("/", 0.5), ("5", 0.5), ("~", 0.6)]
    assert [k for code, t in reports if (k := keys.report(code, t))] == ["5", "5"]
    keys.reset()
    held = [("1", 0.0), ("1", 0.07), ("1", 0.14), ("1", 0.21), ("1", 0.5), ("2", 0.55), ("E", 0.9), ("b", 1.0)]
    assert [k for code, t in held if (k := keys.report(code, t))] == ["1", "1", "2", "*"]


def test_one_press_from_both_sources_counts_once_two_from_one_source_twice() -> None:
    gate = KeyGate(cross_s=0.6)
    assert gate.accept("5", MODEM, 0.0)
    assert not gate.accept("5", DETECTOR, 0.2)
    assert gate.accept("5", DETECTOR, 0.9)
    assert gate.accept("5", DETECTOR, 1.0)
    assert gate.accept("6", MODEM, 1.05)
