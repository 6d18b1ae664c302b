"""Each line's native audio: G.711 and 8-bit PCM agree with sox, AMR-NB copies are whole and in time."""
from __future__ import annotations

import shutil
import subprocess
import warnings
import wave

import pytest

from voice_prompts import PromptError, formats
from voice_prompts.catalog import PromptCatalog

CATALOG = PromptCatalog.load()
needs_sox = pytest.mark.skipif(shutil.which("sox") is None, reason="needs the Debian package sox")


def sox_raw(prompt_id: str, *encoding: str) -> bytes:
    """What sox (a real peer) makes of the shipped WAV in a raw 8 kHz format."""
    return subprocess.run(
        ["sox", "-D", str(CATALOG.path(prompt_id)), "-t", "raw", *encoding, "-"], capture_output=True, check=True
    ).stdout


@needs_sox
def test_linear_matches_sox() -> None:
    for prompt_id in ("welcome", "l_x", "pause_group"):
        assert CATALOG.audio(prompt_id, "s16le") == sox_raw(prompt_id, "-e", "signed-integer", "-b", "16", "-L")


@needs_sox
@pytest.mark.parametrize(("fmt", "encoding"), [("ulaw", "mu-law"), ("alaw", "a-law")])
def test_g711_agrees_with_sox_to_one_quantisation_step(fmt: str, encoding: str) -> None:
    """sox rounds at segment decision levels where the ITU reference truncates: at most one code apart."""
    decode = ulaw_decode if fmt == "ulaw" else alaw_decode
    for prompt_id in ("welcome", "l_x", "pause_group"):
        ours, theirs = CATALOG.audio(prompt_id, fmt), sox_raw(prompt_id, "-e", encoding, "-b", "8")
        assert len(ours) == len(theirs)
        steps = [abs(decode(a) - decode(b)) for a, b in zip(ours, theirs)]
        same = sum(1 for step in steps if step == 0)
        assert same / len(steps) > 0.85, prompt_id
        assert all(step <= step_size(decode(b)) for step, b in zip(steps, theirs)), prompt_id


def test_g711_is_the_itu_reference_bit_for_bit() -> None:
    audioop = pytest.importorskip("audioop")  # CPython's G.711 (the Sun/ITU reference), gone in 3.13
    pcm = formats.read_pcm(CATALOG.path("change_password"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert formats.encode(pcm, "ulaw") == audioop.lin2ulaw(pcm, 2)
        assert formats.encode(pcm, "alaw") == audioop.lin2alaw(pcm, 2)


def ulaw_decode(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + 0x84) << ((code >> 4) & 0x07)
    return (0x84 - magnitude) if code & 0x80 else (magnitude - 0x84)


def alaw_decode(code: int) -> int:
    code ^= 0x55
    segment = (code >> 4) & 0x07
    magnitude = ((code & 0x0F) << 4) + (8 if segment == 0 else 0x108)
    magnitude <<= max(segment - 1, 0)
    return magnitude if code & 0x80 else -magnitude


def step_size(value: int) -> int:
    """The widest G.711 step around `value` (steps double per segment)."""
    return max(16, 2 ** (abs(value).bit_length() - 3))


def test_u8_is_the_high_byte_with_silence_at_0x80() -> None:
    assert set(CATALOG.audio("pause_char", "u8")) == {0x80}
    pcm = formats.read_pcm(CATALOG.path("menu"))
    u8 = CATALOG.audio("menu", "u8")
    assert len(u8) * 2 == len(pcm)
    assert u8[1000] == ((int.from_bytes(pcm[2000:2002], "little", signed=True) >> 8) + 128)


def test_g711_edges() -> None:
    assert formats.linear_to_ulaw(0) == 0xFF and formats.linear_to_ulaw(-1) == 0x7E
    assert formats.linear_to_ulaw(32767) == 0x80 and formats.linear_to_ulaw(-32768) == 0x00
    assert formats.linear_to_alaw(0) == 0xD5 and formats.linear_to_alaw(-1) == 0x55
    assert formats.linear_to_alaw(32767) == 0xAA and formats.linear_to_alaw(-32768) == 0x2A


def test_wav_is_the_shipped_file_and_every_amr_copy_lasts_as_long() -> None:
    for prompt_id in CATALOG.ids():
        assert CATALOG.audio(prompt_id, "wav") == CATALOG.path(prompt_id).read_bytes()
        amr = CATALOG.audio(prompt_id, "amr")
        assert formats.amr_duration(amr) == pytest.approx(CATALOG.duration(prompt_id), abs=0.045)


def test_raw_lengths_follow_the_duration() -> None:
    with wave.open(str(CATALOG.path("ask_code"))) as reader:
        frames = reader.getnframes()
    for fmt, width in (("ulaw", 1), ("alaw", 1), ("u8", 1), ("s16le", 2)):
        assert len(CATALOG.audio("ask_code", fmt)) == frames * width


def test_unknown_format_and_broken_amr_are_refused() -> None:
    with pytest.raises(PromptError, match="unknown raw format 'gsm'"):
        CATALOG.audio("welcome", "gsm")
    with pytest.raises(PromptError, match="not an AMR-NB file"):
        formats.amr_duration(b"RIFF....")
    with pytest.raises(PromptError, match="damaged AMR frame"):
        formats.amr_duration(formats.AMR_MAGIC + bytes([0x4C]))  # frame type 9 does not exist
