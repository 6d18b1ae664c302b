"""The DTMF receiver on synthetic tones: what dtmf-receiver-spec.md says it must accept and reject, streaming,
and talk-off on the prompts the box itself plays (it hears them during barge-in)."""
from __future__ import annotations

import struct
import wave
from pathlib import Path

import numpy as np
import pytest

import voice_prompts
from drivers import DriverError
from drivers.dtmf import DtmfDetector, DtmfEvent, DtmfSettings, decode
from drivers.dtmf_screen import window_screen
from drivers.dtmf_spectrum import FEATURES, tone_bank
from drivers.dtmf_wav import WavError, read_wav, resample

RATE = 8000
ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
PROMPT_DIR = Path(voice_prompts.__file__).resolve().parent / "wav"


def amplitude(dbm0: float) -> float:
    """Peak of a sine at `dbm0` dBm0 (a full-scale sine is +3.14 dBm0)."""
    return 32767.0 * 10 ** ((dbm0 - 3.14) / 20)


def tone(key: str, ms: float, level: float = -10.0, twist: float = 0.0, offsets: tuple[float, float] = (0, 0),
         rate: int = RATE) -> np.ndarray:
    row = next(i for i, keys in enumerate(KEYPAD) if key in keys)
    t = np.arange(int(round(ms * rate / 1000))) / rate
    return (amplitude(level) * np.sin(2 * np.pi * ROWS[row] * (1 + offsets[0]) * t + 0.3)
            + amplitude(level + twist) * np.sin(2 * np.pi * COLS[KEYPAD[row].index(key)] * (1 + offsets[1]) * t))


def silence(ms: float, rate: int = RATE) -> np.ndarray:
    return np.zeros(int(round(ms * rate / 1000)))


def sequence(keys: str, ms: float = 70, gap: float = 80, **kw: object) -> np.ndarray:
    parts = [silence(100)]
    for key in keys:
        parts += [tone(key, ms, **kw), silence(gap)]  # type: ignore[arg-type]
    return np.concatenate(parts + [silence(100)])


def pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def heard(x: np.ndarray, rate: int = RATE) -> str:
    return "".join(event.key for event in decode(pcm(x), rate))


ALL = "0123456789*#ABCD"


# -- accept -----------------------------------------------------------------------------------------------------
def test_every_key_once_with_its_times() -> None:
    events = decode(pcm(sequence(ALL, ms=70, gap=80)))
    assert "".join(e.key for e in events) == ALL
    for i, event in enumerate(events):  # each tone starts at 100 + 150 i ms and lasts 70 ms
        assert event.start == pytest.approx(0.100 + 0.150 * i, abs=0.004)
        assert event.end == pytest.approx(0.170 + 0.150 * i, abs=0.004)


@pytest.mark.parametrize("signs", [(1, 1), (1, -1), (-1, 1), (-1, -1)])
def test_frequencies_within_1_5_percent_are_accepted(signs: tuple[int, int]) -> None:
    assert heard(sequence(ALL, offsets=(signs[0] * 0.015, signs[1] * 0.015))) == ALL


@pytest.mark.parametrize("offsets", [(0.035, 0.0), (-0.035, 0.0), (0.0, 0.035), (0.0, -0.035), (0.035, 0.035),
                                     (-0.035, -0.035), (0.035, -0.035)])
def test_frequencies_off_by_3_5_percent_are_rejected(offsets: tuple[float, float]) -> None:
    assert heard(sequence(ALL, offsets=offsets)) == ""


@pytest.mark.parametrize("twist", [4.0, -8.0])
def test_twist_within_the_limits_is_accepted(twist: float) -> None:
    assert heard(sequence(ALL, level=-12.0, twist=twist)) == ALL


@pytest.mark.parametrize("twist", [12.0, -12.0])
def test_twist_of_12_db_is_rejected(twist: float) -> None:
    assert heard(sequence(ALL, level=-20.0 if twist > 0 else -5.0, twist=twist)) == ""


@pytest.mark.parametrize("level", [-3.0, -10.0, -25.0])
def test_levels_from_minus_3_to_minus_25_dbm0_are_accepted(level: float) -> None:
    assert heard(sequence(ALL, level=level)) == ALL


def test_clipped_tones_at_0_dbm0_are_accepted() -> None:
    assert heard(sequence(ALL, level=0.0)) == ALL  # pcm() clips: the pair peaks 2.9 dB above full scale


def test_tones_at_minus_55_dbm0_are_rejected() -> None:
    assert heard(sequence(ALL, level=-55.0)) == ""


# -- timing -----------------------------------------------------------------------------------------------------
def test_40_ms_tones_with_40_ms_gaps_are_all_reported() -> None:
    keys = "1122334455667788"
    assert heard(sequence(keys, ms=40, gap=40)) == keys


def test_20_ms_tones_are_rejected() -> None:
    assert heard(sequence(ALL, ms=20, gap=80)) == ""


@pytest.mark.parametrize(("gap", "count"), [(40.0, 2), (15.0, 1)])
def test_same_key_twice_is_two_presses_only_after_a_real_gap(gap: float, count: int) -> None:
    x = np.concatenate([silence(100), tone("5", 80), silence(gap), tone("5", 80), silence(100)])
    assert heard(x) == "5" * count


def test_a_10_ms_drop_out_does_not_split_a_press() -> None:
    x = np.concatenate([silence(100), tone("9", 120), silence(100)])
    start = int(0.160 * RATE)
    x[start: start + 80] = 0.0
    events = decode(pcm(x))
    assert [e.key for e in events] == ["9"]
    assert events[0].end - events[0].start == pytest.approx(0.120, abs=0.01)


def test_different_keys_back_to_back_are_both_reported() -> None:
    x = np.concatenate([silence(100), tone("1", 60), tone("2", 60), silence(100)])
    assert heard(x) == "12"


def test_noise_at_6_db_s_n_per_tone() -> None:
    x = sequence(ALL, level=-15.0)
    noise = np.random.default_rng(1).normal(0, amplitude(-15.0 - 6.0) / np.sqrt(2), len(x))
    assert heard(x + noise) == ALL


# -- talk-off and invalid tone sets ---------------------------------------------------------------------------------
@pytest.mark.parametrize("freqs", [(697.0,), (1633.0,), (697.0, 770.0), (1209.0, 1477.0), (697.0, 1209.0, 1336.0),
                                   (941.0, 1336.0, 2000.0), (350.0, 440.0), (480.0, 620.0)])
def test_single_same_group_and_three_tone_sets_are_rejected(freqs: tuple[float, ...]) -> None:
    t = np.arange(int(0.2 * RATE)) / RATE
    burst = sum(amplitude(-10.0) * np.sin(2 * np.pi * f * t) for f in freqs)
    x = np.concatenate([silence(100), np.asarray(burst), silence(100)] * 3)
    assert heard(x) == ""


def _prompt(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)


PROMPTS = sorted(PROMPT_DIR.glob("*.wav"))


@pytest.mark.skipif(not PROMPTS, reason="no rendered prompts")
@pytest.mark.parametrize("path", PROMPTS, ids=lambda p: p.stem)
def test_no_digit_in_any_shipped_prompt(path: Path) -> None:
    audio = _prompt(path)
    assert heard(audio) == ""
    assert heard(audio * 2.0) == ""  # a hot echo, clipped


@pytest.mark.skipif(not PROMPTS, reason="no rendered prompts")
def test_a_key_pressed_while_a_prompt_plays_is_heard() -> None:
    """Barge-in: the echo of our own prompt 10 dB under the caller's digits."""
    audio = np.concatenate([_prompt(p) for p in PROMPTS[:6]]) * 10 ** (-10 / 20)
    keys = sequence("2580", ms=90, gap=300, level=-8.0)
    x = audio[: len(keys)] + keys[: len(audio)]
    assert heard(x) == "2580"


# -- streaming ----------------------------------------------------------------------------------------------------
def _stream_fixture() -> np.ndarray:
    rng = np.random.default_rng(7)
    x = np.concatenate([sequence("159#", ms=45, gap=45, level=-20.0), sequence("*0AD", twist=-7.0)])
    if PROMPTS:
        x = np.concatenate([_prompt(PROMPTS[0]), x, _prompt(PROMPTS[-1])])
    return pcm(x + rng.normal(0, 50, len(x)))


def test_blocks_of_any_size_give_what_one_block_gives() -> None:
    x = _stream_fixture()
    whole = decode(x)
    assert "".join(e.key for e in whole) == "159#*0AD"
    data = x.astype("<i2").tobytes()
    rng = np.random.default_rng(3)
    for sizes in ([320], [2], [1, 3, 5], list(rng.integers(1, 999, 50))):  # bytes: odd sizes split samples
        detector, events, at, i = DtmfDetector(), [], 0, 0
        while at < len(data):
            size = int(sizes[i % len(sizes)])
            events += detector.feed(data[at: at + size])
            at, i = at + size, i + 1
        assert events + detector.flush() == whole
    detector = DtmfDetector(batch=1)
    events = [e for block in np.array_split(x, 97) for e in detector.feed(block)]
    assert events + detector.flush() == whole


def test_in_20_ms_frames_a_press_is_reported_within_140_ms_of_its_tones_ending() -> None:
    """The drivers feed 20 ms frames; analysis waits for batches (longer ones while no key is down), which must
    not delay a report much past the 25 ms gap that ends a press (measured worst case: 124 ms)."""
    for lead in range(0, 400, 23):
        for ms in (40, 100, 250):
            x = pcm(np.concatenate([silence(lead + 100), tone("5", ms), silence(400)])).astype("<i2").tobytes()
            detector = DtmfDetector()
            for at in range(0, len(x), 320):
                events = detector.feed(x[at: at + 320])
                if events:
                    assert [e.key for e in events] == ["5"]
                    assert (at + 320) / 2 / RATE - events[0].end <= 0.140, (lead, ms)
                    break
            else:
                pytest.fail(f"no press reported (lead {lead} ms, tone {ms} ms)")


def test_the_cheap_screen_never_drops_a_window_the_full_screen_passes() -> None:
    """The receiver screens most windows with an upper bound first (drivers.dtmf_screen); over tones at the
    limits of level, twist and frequency, under noise and with voice-like harmonic stacks, the bound must keep
    every window the full screen passes."""
    bank, screen = tone_bank(RATE), window_screen(RATE, DtmfSettings().limits())
    rng = np.random.default_rng(7)
    parts = []
    for key in ALL:
        for level, twist, offsets in ((-25, -8, (0.015, -0.015)), (-3, 4, (-0.015, 0.015)), (-38, 0, (0.03, 0.03)),
                                      (-20, -11, (0, 0)), (-20, 8, (0.02, -0.02))):
            parts.append(tone(key, 60, level=level, twist=twist, offsets=offsets) + rng.normal(0, 300, 480))
    t = np.arange(RATE) / RATE
    for f0 in (110.0, 173.0, 240.0):  # harmonic stacks: what speech puts near the DTMF bins
        parts.append(sum(3000 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 16)))
    x = np.concatenate(parts)
    blocks = x[: len(x) // bank.half * bank.half].reshape(-1, bank.half)
    features = bank.features(blocks, np.zeros(FEATURES))
    bins, sums, squares = bank.as_bins(features), features[:, 16], features[:, 17]
    args = (bins, sums[:-1] + sums[1:], squares[:-1] + squares[1:])
    full, cheap = screen.screen(*args, tones_likely=True), screen.screen(*args)
    assert (full.key >= 0).sum() > 400  # the tones pass (about 7 windows of each 60 ms tone)
    np.testing.assert_array_equal(cheap.key, full.key)
    passed = full.key >= 0
    np.testing.assert_array_equal(cheap.data[passed], full.data[passed])


def test_a_press_is_reported_once_it_ends_and_flush_reports_the_last_one() -> None:
    detector = DtmfDetector(batch=1)
    assert detector.feed(pcm(np.concatenate([silence(50), tone("7", 100)]))) == []
    events = detector.feed(pcm(silence(60)))  # released: reported within the gap time
    assert [e.key for e in events] == ["7"]
    assert detector.feed(pcm(tone("8", 100))) == []
    last = detector.flush()
    assert [e.key for e in last] == ["8"]
    assert last[0].end == pytest.approx(0.310, abs=0.006)
    again = detector.feed(pcm(np.concatenate([tone("3", 60), silence(100)])))  # a new stream from time 0
    assert again == [DtmfEvent("3", pytest.approx(0.0, abs=0.004), pytest.approx(0.060, abs=0.004))]


def test_a_held_key_is_reported_once_after_two_seconds() -> None:
    x = np.concatenate([silence(100), tone("6", 7000), silence(100), tone("6", 60), silence(100)])
    events = decode(pcm(x))
    assert [e.key for e in events] == ["6", "6"]
    assert (events[0].start, events[0].end) == (pytest.approx(0.1, abs=0.005), pytest.approx(2.1, abs=0.01))


def test_other_sample_rates() -> None:
    x = np.concatenate([silence(100, 16000), tone("4", 80, rate=16000), silence(100, 16000),
                        tone("B", 80, rate=16000), silence(100, 16000)])
    assert heard(x, rate=16000) == "4B"


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        DtmfDetector().feed(np.zeros((2, 10)))
    with pytest.raises(ValueError):
        DtmfDetector(rate=2000)


# -- WAV files and resampling ---------------------------------------------------------------------------------
def _riff(tag: int, channels: int, rate: int, bits: int, data: bytes, extensible: bool = False) -> bytes:
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + bytes(14)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


SINE = np.round(8000 * np.sin(2 * np.pi * 1000 * np.arange(80) / RATE))


@pytest.mark.parametrize(("tag", "bits", "encode", "extensible"), [
    (1, 16, lambda x: x.astype("<i2").tobytes(), False),
    (1, 8, lambda x: (np.round(x / 256) + 128).astype(np.uint8).tobytes(), False),
    (1, 24, lambda x: b"".join(int(v * 256).to_bytes(3, "little", signed=True) for v in x), True),
    (1, 32, lambda x: (x * 65536).astype("<i4").tobytes(), True),
    (3, 32, lambda x: (x / 32768).astype("<f4").tobytes(), False),
])
def test_wav_codings_are_read_in_int16_units(tmp_path: Path, tag: int, bits: int, encode: object,
                                             extensible: bool) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(_riff(tag, 1, RATE, bits, encode(SINE), extensible))  # type: ignore[operator]
    audio = read_wav(path)
    assert (audio.rate, audio.channels) == (RATE, 1)
    assert np.max(np.abs(audio.samples - SINE)) <= (128 if bits == 8 else 1)


def test_g711_and_stereo_wav(tmp_path: Path) -> None:
    ulaw = np.array([0xFF, 0x7F, 0x80, 0x00], dtype=np.uint8)  # +0, -0, +32124, -32124
    (tmp_path / "u.wav").write_bytes(_riff(7, 1, RATE, 8, ulaw.tobytes()))
    assert list(read_wav(tmp_path / "u.wav").samples) == [0, 0, 32124, -32124]
    alaw = np.array([0xD5, 0xAA], dtype=np.uint8)  # +8, +32256
    (tmp_path / "a.wav").write_bytes(_riff(6, 1, RATE, 8, alaw.tobytes()))
    assert list(read_wav(tmp_path / "a.wav").samples) == [8, 32256]
    stereo = np.array([[100, 300], [-50, 50]], dtype="<i2")
    (tmp_path / "s.wav").write_bytes(_riff(1, 2, RATE, 16, stereo.tobytes()))
    assert list(read_wav(tmp_path / "s.wav").samples) == [200, 0]


@pytest.mark.parametrize(("content", "message"), [
    (b"hello world, not a wav", "not a WAV"),
    (_riff(1, 1, RATE, 16, b"")[:36], "no data chunk"),
    (_riff(1, 1, RATE, 12, b"\x00" * 12), "sample size"),
    (_riff(2, 1, RATE, 4, b"\x00" * 12), "unsupported WAV coding"),
])
def test_bad_wav_files_are_refused_with_the_reason(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(WavError, match=message) as caught:
        read_wav(path)
    assert isinstance(caught.value, DriverError)


def test_resampling_keeps_frequency_and_level() -> None:
    for rate in (44100, 11025, 48000, 6000):
        t = np.arange(rate) / rate
        y = resample(10000 * np.sin(2 * np.pi * 1209 * t), rate, RATE)
        assert len(y) == RATE
        spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(len(y) - 2000)))
        assert np.argmax(spectrum) * RATE / (len(y) - 2000) == pytest.approx(1209, abs=2)
        assert np.sqrt(np.mean(y[1000:-1000] ** 2)) == pytest.approx(10000 / np.sqrt(2), rel=0.01)
    t = np.arange(44100) / 44100
    alias = resample(10000 * np.sin(2 * np.pi * 7000 * t), 44100, RATE)  # would fold to 1000 Hz
    assert np.sqrt(np.mean(alias[1000:-1000] ** 2)) < 10
