"""A SIP worker's playback (`drivers.sip.calls.CallSlot`) through a real pjsua2 conference bridge into a tap.

A pjsua2 endpoint with the null audio device at 8 kHz, as the worker runs it; the call's audio is an `AudioTap` on
the bridge, so the test hears what a caller's RTP stream would carry. The files' audio must arrive whole before the
worker reports the playback finished (pjmedia's playlist EOF comes up to 250 ms early and drops audio around it:
docs/sip.md, "End of a playback"), nothing may follow it, and a stop ends the audio at once.
"""
from __future__ import annotations

import array
import os
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from voice_prompts.catalog import PromptCatalog

pj = pytest.importorskip("pjsua2")

from drivers.sip import calls  # noqa: E402
from drivers.sip.tap import AudioTap  # noqa: E402

BRIDGE_S = 0.06  # a frame the bridge has read reaches the tap within this


def loud(frame: bytes) -> bool:
    samples = array.array("h", frame)
    return bool(samples) and max(abs(s) for s in samples) > 300


def audio_of(paths: list[str]) -> bytes:
    out = b""
    for path in paths:
        with wave.open(path, "rb") as wav:
            out += wav.readframes(wav.getnframes())
    return out


@pytest.fixture(scope="module")
def bridge() -> Iterator[list[AudioTap]]:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = cfg.logConfig.consoleLevel = 0
    cfg.medConfig.hasIoqueue = False
    cfg.medConfig.threadCnt = 0
    cfg.medConfig.clockRate = cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    ep.audDevManager().setNullDev()
    ep.libStart()
    tap = AudioTap()
    tap.open("test-call")
    tap.active = True
    held = [tap]  # the test's only reference: the tap must be gone before the library
    del tap
    try:
        yield held
    finally:
        held[0].active = False
        ep.audDevManager().setNoDev()  # the bridge's clock stops before the tap goes
        held.clear()
        ep.libDestroy()


def play(tap: AudioTap, paths: list[str], stop_after: float | None = None
         ) -> tuple[float, float | None, bytes, bytes]:
    """Plays `paths` as the worker does (tick every 10 ms turn); returns the start, when "played" came (None if
    never), the audio the tap received until the player was stopped (+ the frames already on their way) and the
    audio it received in the 0.3 s after that."""
    ep = pj.Endpoint.instance()
    slot = calls.CallSlot(None, "test", "test")  # type: ignore[arg-type]  # no owner: no in-band tap, no keys
    slot.audio = tap
    played: list[float] = []
    tap.drain()
    slot.play(paths, 7)
    started = time.monotonic()
    frames = []
    while not played and time.monotonic() - started < (stop_after or 10.0):
        ep.libHandleEvents(10)
        slot.tick(lambda token: played.append(time.monotonic()) if token == 7 else None)
        frames += tap.drain()
    slot.stop()
    stopped = time.monotonic()
    while time.monotonic() - stopped < 0.3:  # anything still coming is counted against the player
        ep.libHandleEvents(10)
        frames += tap.drain()
    heard = b"".join(data for t, data in frames if t <= stopped + BRIDGE_S)
    after = b"".join(data for t, data in frames if t > stopped + BRIDGE_S)
    return started, played[0] if played else None, heard, after


@pytest.mark.parametrize("ids", [["d4"], ["goodbye"], ["repeat", "d2", "pause_char", "d8"], ["ask_code"]],
                         ids="+".join)
def test_a_playback_is_reported_played_once_all_its_audio_has_been_sent(bridge: list[AudioTap], ids: list[str]
                                                                        ) -> None:
    catalog = PromptCatalog.load()
    paths = [str(catalog.path(i)) for i in ids]
    files = audio_of(paths)
    length = len(files) / 16000
    started, played, heard, after = play(bridge[0], paths)
    assert played is not None
    # every sample of the files, in order, among what was sent until "played" (the bridge passes it unchanged)
    assert files in heard, f"{len(files) - len(heard)} bytes short or altered"
    assert length <= played - started < length + 0.15  # no waiting for the EOF or the silence pad
    assert not any(loud(after[i:i + 320]) for i in range(0, len(after), 320))  # nothing replayed afterwards


def test_a_stop_silences_the_playback_at_once_and_reports_nothing(bridge: list[AudioTap]) -> None:
    catalog = PromptCatalog.load()
    started, played, heard, after = play(bridge[0], [str(catalog.path("ask_code"))], stop_after=0.5)
    assert played is None
    assert any(loud(heard[i:i + 320]) for i in range(0, len(heard), 320))
    assert not any(loud(after[i:i + 320]) for i in range(0, len(after), 320))


def test_file_lengths_are_cached_but_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "p.wav"

    def write(seconds: float, mtime: int) -> None:
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(b"\1\0" * int(8000 * seconds))
        os.utime(path, ns=(mtime, mtime))

    write(0.5, 10**18)
    assert calls.wav_seconds(str(path)) == 0.5
    write(1.25, 2 * 10**18)
    assert calls.wav_seconds(str(path)) == 1.25
    assert calls.wav_seconds(str(tmp_path / "missing.wav")) == 0.0


def test_the_silence_pad_outlasts_pjmedias_read_ahead() -> None:
    with wave.open(calls.silence_pad(8000), "rb") as wav:
        frames: Any = wav.readframes(wav.getnframes())
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
    # PJMEDIA_FILE_PORT_BUFSIZE (4000 bytes) + one 20 ms frame is what pjmedia may lose around its EOF read
    assert len(frames) >= 4000 + 320 and not any(frames)


def test_the_silence_pad_is_written_again_when_tmp_has_been_cleaned() -> None:
    path = calls.silence_pad(8000)
    os.remove(path)
    again = calls.silence_pad(8000)
    assert os.path.exists(again) and os.path.getsize(again) > 4320


def test_a_playback_of_unknown_length_ends_at_pjmedias_eof() -> None:
    player = calls.PromptPlayer(0.0)
    player.due = 1.0
    assert not player.done(5.0)
    player.onEof2()
    assert player.done(5.0)
    timed = calls.PromptPlayer(2.0)
    timed.due = 10.0
    timed.onEof2()  # early, as pjmedia's EOF is
    assert not timed.done(9.9) and timed.done(10.0)
