"""The two-way audio check (`resetline line test N --audio`) over the pty: the box answers, plays its test tone,
and reports what came back; the simulated far end records that it heard the tone and echoes it (or not)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.gsm import GsmLine, ModemSimulator
from drivers.gsm.audiocheck import check_tone, tone_back
from drivers.line import LineEvent
from test_gsm_line import FAST, PROMPTS, Far


@pytest.fixture
def made(tmp_path: Path) -> Iterator[list[Any]]:
    things: list[Any] = []
    yield things
    for thing in reversed(things):
        thing.close()


def bench(made: list[Any], tmp_path: Path, audio: str = "usb-pcm", **sim_options: Any) -> tuple[ModemSimulator, GsmLine]:
    sim = ModemSimulator("ec25", speed=20, link=tmp_path / "modem", audio=audio == "usb-pcm", prompts=PROMPTS,
                         **sim_options)
    sim.start()
    made.append(sim)
    events: list[LineEvent] = []
    line = GsmLine("gsm0", sim.port, profile="ec25", prompts=PROMPTS, post=lambda action: action(),
                   prompt_ids=("welcome",), audio=audio, audio_port=sim.audio_port, timings=FAST)
    line.attach(events.append)
    line.start()
    made.append(line)
    assert line.wait_state(("up", "down"), 10) == "up"
    return sim, line


def check_with_a_call(sim: ModemSimulator, line: GsmLine, far: Far, keys: str = "") -> dict[str, Any]:
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(line.audio_check(10.0)))
    worker.start()
    time.sleep(0.05)
    sim.ring("0912345678", far)
    deadline = time.monotonic() + 10
    while keys and sim.pcm_sound_frames < 5 and time.monotonic() < deadline:
        time.sleep(0.005)  # the caller hears the tone …
    for key in keys:
        sim.press(key)  # … and presses a key
    worker.join(15)
    return result


def test_the_tone_reaches_the_far_end_and_comes_back(made: list[Any], tmp_path: Path) -> None:
    sim, line = bench(made, tmp_path, echo=True)
    far = Far()
    result = check_with_a_call(sim, line, far)
    assert result["available"] and result["tone_sent"] and result["audio_back"], result
    assert result["tone_back_blocks"] >= 40 and -13 < result["tone_back_dbm0"] < -7  # 1 s sent at -10 dBm0
    assert sim.pcm_sound_frames >= 40  # the far end heard it
    assert far.hung_up.wait(5)  # the box hangs up after the check


def test_no_audio_back_is_reported_as_such(made: list[Any], tmp_path: Path) -> None:
    sim, line = bench(made, tmp_path, echo=False)
    result = check_with_a_call(sim, line, Far())
    assert result["tone_sent"] and sim.pcm_sound_frames >= 40
    assert result["audio_back"] is False and result["tone_back_blocks"] == 0 and result["keys_heard_in_band"] == ""


def test_a_key_pressed_on_hearing_the_tone_proves_both_directions(made: list[Any], tmp_path: Path) -> None:
    sim, line = bench(made, tmp_path, echo=False, dtmf_reports=False)
    result = check_with_a_call(sim, line, Far(), keys="5")
    assert result["audio_back"] and result["keys_heard_in_band"] == "5", result


def test_not_available_on_modem_files(made: list[Any], tmp_path: Path) -> None:
    _, line = bench(made, tmp_path, audio="modem-files")
    result = line.audio_check(1.0)
    assert result["available"] is False and "modem-files" in result["why"]


def test_no_call_within_the_timeout(made: list[Any], tmp_path: Path) -> None:
    _, line = bench(made, tmp_path)
    result = line.audio_check(0.3)
    assert result["audio_back"] is False and "no call" in result["error"]


def test_the_tone_meter() -> None:
    blocks, level = tone_back(check_tone(0.5))
    assert blocks == 25 and abs(level + 10.0) < 0.5
    assert tone_back(bytes(16000))[0] == 0
