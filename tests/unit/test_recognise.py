"""The prompt recogniser on synthetic calls: the box's own prompt files through G.711, level changes and noise."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from drivers.v253.samples import decode_table
from firmware.password import spoken
from provisioning.dial_transcript import readings
from provisioning.recognise import Recogniser
from voice_prompts.catalog import PromptCatalog
from voice_prompts.formats import encode, read_pcm

CATALOG = PromptCatalog.load()
DISPLAY = {pid: CATALOG.text(pid) for pid in CATALOG.ids()}
PASSWORD = "4h7k2905"


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    return Recogniser.from_catalog(CATALOG)


def audio(prompt_id: str) -> npt.NDArray[np.float64]:
    return np.frombuffer(read_pcm(CATALOG.path(prompt_id)), dtype="<i2").astype(np.float64)


def silence(seconds: float) -> npt.NDArray[np.float64]:
    return np.zeros(int(seconds * 8000))


def call(*parts: str | float | npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.float64], list[tuple[str, float]]]:
    """Concatenate prompts (ids), silences (seconds) and raw pieces; also return (id, true start) of each prompt."""
    pieces, truth, at = [], [], 0
    for part in parts:
        piece = silence(part) if isinstance(part, float) else audio(part) if isinstance(part, str) else part
        if isinstance(part, str) and CATALOG.prompt(part).set != "pause":
            truth.append((part, at / 8000))
        pieces.append(piece)
        at += len(piece)
    return np.concatenate(pieces), truth


def channel(x: npt.NDArray[np.float64], law: str, gain_db: float, snr_db: float, seed: int = 7) -> npt.NDArray[np.int16]:
    """Gain, white noise `snr_db` below the speech, then through G.711 (`law`) and back."""
    y = x * 10 ** (gain_db / 20)
    speech_rms = float(np.sqrt(np.mean(y[np.abs(y) > 0] ** 2)))
    y = y + np.random.default_rng(seed).normal(0, speech_rms * 10 ** (-snr_db / 20), len(y))
    pcm = np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes()
    return decode_table(law)[np.frombuffer(encode(pcm, law), dtype=np.uint8)]


def reset_call() -> tuple[npt.NDArray[np.float64], list[tuple[str, float]]]:
    return call(0.3, "welcome", "menu", 1.2, "ask_code", 11.0, "new_password", *spoken(PASSWORD),
                "repeat", *spoken(PASSWORD), "change_password", "goodbye", 0.4)


@pytest.mark.parametrize(("law", "gain_db", "snr_db"), [("ulaw", -6.0, 30.0), ("alaw", 4.0, 20.0), ("ulaw", 0.0, 15.0)])
def test_a_reset_call_is_recognised_prompt_by_prompt_through_g711(
        recogniser: Recogniser, law: str, gain_db: float, snr_db: float) -> None:
    x, truth = reset_call()
    heard = recogniser.recognise(channel(x, law, gain_db, snr_db))
    assert [h.prompt for h in heard] == [pid for pid, _ in truth]
    for item, (_, start) in zip(heard, truth):
        assert abs(item.start_s - start) < 0.04, (item, start)
        assert not item.cut
    assert readings(heard, DISPLAY) == [PASSWORD, PASSWORD]


def test_a_prompt_cut_by_a_key_is_reported_cut_and_the_next_one_found(recogniser: Recogniser) -> None:
    menu = audio("menu")[: int(1.1 * 8000)]
    x, _ = call(0.2, "welcome", menu, 0.06, "ask_code", 0.5)
    heard = recogniser.recognise(channel(x, "ulaw", 0.0, 30.0))
    assert [(h.prompt, h.cut) for h in heard] == [("welcome", False), ("menu", True), ("ask_code", False)]
    assert 1.0 < heard[1].end_s - heard[1].start_s < 1.3


def test_a_password_character_clipped_by_the_next_playback_is_still_read(recogniser: Recogniser) -> None:
    clipped = audio("d4")[:960]  # 120 ms of "bốn", then the next prompt 40 ms later (seen on the SIP line)
    x, _ = call(0.2, "new_password", "d9", "pause_char", clipped, 0.04, "repeat", "d9", "pause_char", "d4", 0.3)
    heard = recogniser.recognise(channel(x, "alaw", 0.0, 30.0))
    assert [(h.prompt, h.cut) for h in heard] == [
        ("new_password", False), ("d9", False), ("d4", True), ("repeat", False), ("d9", False), ("d4", False)]
    assert readings(heard, DISPLAY) == ["94", "94"]


def test_a_sound_that_is_no_prompt_is_reported_as_unknown(recogniser: Recogniser) -> None:
    t = np.arange(int(0.6 * 8000)) / 8000
    tone = 6000 * np.sin(2 * np.pi * 1000 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x, _ = call(0.3, tone, 0.5, "goodbye", 0.3)
    heard = recogniser.recognise(channel(x, "ulaw", 0.0, 40.0))
    assert [h.prompt for h in heard] == [None, "goodbye"]
    assert abs(heard[0].start_s - 0.3) < 0.03


def test_silence_and_noise_alone_hold_no_prompt(recogniser: Recogniser) -> None:
    assert recogniser.recognise(np.zeros(8000, dtype=np.int16)) == []
    noise = np.random.default_rng(3).normal(0, 30, 16000)  # a quiet line, about -60 dBFS
    assert [h for h in recogniser.recognise(noise) if h.prompt is not None] == []


def test_frames_lost_in_transit_do_not_cut_a_prompt(recogniser: Recogniser) -> None:
    code = audio("ask_code")
    lost = np.concatenate([code[:8000], np.zeros(320), code[8320:14000], code[14160:]])  # 40 ms zeroed, 20 ms gone
    x, _ = call(0.2, lost, 0.3, "invalid_code", 0.3)
    heard = recogniser.recognise(channel(x, "ulaw", 0.0, 30.0))
    assert [(h.prompt, h.cut) for h in heard] == [("ask_code", False), ("invalid_code", False)]


def test_a_sentence_with_its_end_clipped_is_not_taken_for_a_shorter_one_with_the_same_start(
        recogniser: Recogniser) -> None:
    """"Mã số chưa đúng, mời nhập lại." losing its last 250 ms (seen on the SIP line) against "Mã số chưa đúng."."""
    clipped = audio("invalid_code")[:-2000]
    x, _ = call(0.2, clipped, 1.5, "invalid_final", "goodbye", 0.3)
    heard = recogniser.recognise(channel(x, "ulaw", 0.0, 25.0))
    assert [(h.prompt, h.cut) for h in heard] == [("invalid_code", True), ("invalid_final", False), ("goodbye", False)]


def test_a_character_losing_its_end_to_the_next_sentence_leaves_the_sentence_whole(recogniser: Recogniser) -> None:
    clipped = audio("d0")[:-960]  # the box's line loses the last 120 ms, the closing advice starts 40 ms later
    x, _ = call(0.2, "repeat", "d1", "pause_char", clipped, 0.04, "change_password", "goodbye", 0.3)
    heard = recogniser.recognise(channel(x, "ulaw", 0.0, 30.0))
    assert [h.prompt for h in heard] == ["repeat", "d1", "d0", "change_password", "goodbye"]
    assert not heard[3].cut


def test_an_unknown_sound_ends_at_the_first_short_quiet_so_the_next_prompt_is_found(recogniser: Recogniser) -> None:
    t = np.arange(int(0.12 * 8000)) / 8000
    scrap = 5000 * np.sin(2 * np.pi * 1300 * t)  # something no prompt sounds like, 40 ms before the next prompt
    x, _ = call(0.3, scrap, 0.04, "repeat", "d1", "pause_char", "d5", 0.3)
    heard = recogniser.recognise(channel(x, "ulaw", 0.0, 30.0))
    assert [h.prompt for h in heard] == [None, "repeat", "d1", "d5"]
