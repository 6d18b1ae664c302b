"""The simulated line and scripted caller: playback takes the prompts' real length; keys follow the demo's rule."""
from __future__ import annotations

from pathlib import Path

import pytest

from drivers import DriverError
from drivers.clock import VirtualScheduler
from drivers.line import IncomingCall, KeyPressed, LineEvent, PlaybackFinished, RemoteHangup
from drivers.simcaller import KeyStep, ScriptedCaller, parse_keys
from drivers.simline import ANSWER_DELAY_S, SimulatedLine


class Prompts:
    durations = {"long": 4.0, "short": 1.5}

    def path(self, prompt_id: str) -> Path:
        return Path(f"/nonexistent/{prompt_id}.wav")

    def duration(self, prompt_id: str) -> float:
        return self.durations[prompt_id]


class Ear:
    def __init__(self) -> None:
        self.log: list[tuple[float, str]] = []

    def heard(self, t: float, prompt_id: str) -> None:
        self.log.append((t, f"say:{prompt_id}"))

    def pressed(self, t: float, key: str) -> None:
        self.log.append((t, f"key:{key}"))

    def ended(self, t: float, by_caller: bool) -> None:
        self.log.append((t, "end:caller" if by_caller else "end:box"))


class Box:
    """Answers and plays `long` once; replays `short` after each key; hangs up after 3 keys."""

    def __init__(self, line: SimulatedLine) -> None:
        self.line = line
        self.events: list[LineEvent] = []
        self.keys = 0
        self.token = 0

    def __call__(self, event: LineEvent) -> None:
        self.events.append(event)
        if isinstance(event, IncomingCall):
            self.line.answer(event.call_id)
            self.token += 1
            self.line.play(event.call_id, ["long"], self.token)
        elif isinstance(event, KeyPressed):
            self.keys += 1
            self.line.stop_playback(event.call_id)
            if self.keys == 3:
                self.line.hang_up(event.call_id)
            else:
                self.token += 1
                self.line.play(event.call_id, ["short"], self.token)


def run(keys: str, barge_in: bool = False, hangup_at: float | None = None) -> tuple[list[tuple[float, str]], Box]:
    scheduler = VirtualScheduler()
    line = SimulatedLine("sim0", scheduler, Prompts())
    box = Box(line)
    line.attach(box)
    ear = Ear()
    ScriptedCaller(line, scheduler, parse_keys(keys), ear, barge_in=barge_in, hangup_at=hangup_at).call("0912345678")
    scheduler.run()
    return ear.log, box


def test_keys_wait_for_silence_plus_one_second() -> None:
    log, box = run("123")
    start = ANSWER_DELAY_S
    assert log == [
        (start, "say:long"),
        (start + 5.0, "key:1"),          # long ends at start+4, key 1 s later
        (start + 5.0, "say:short"),
        (start + 7.5, "key:2"),          # short ends at start+6.5
        (start + 7.5, "say:short"),
        (start + 10.0, "key:3"),
        (start + 10.0, "end:box"),
    ]
    finished = [e for e in box.events if isinstance(e, PlaybackFinished)]
    assert [e.token for e in finished] == [1, 2, 3]


def test_comma_waits_one_more_second_and_spaces_are_ignored() -> None:
    log, _ = run("1 ,2, 3")
    keys = [t for t, what in log if what.startswith("key")]
    assert keys == [5.5, 9.0, 12.5]  # 1 s after silence, +1 s per comma


def test_barge_in_presses_every_second_without_waiting() -> None:
    log, box = run("123", barge_in=True)
    assert [t for t, what in log if what.startswith("key")] == [1.0, 2.0, 3.0]
    assert not [e for e in box.events if isinstance(e, PlaybackFinished)]  # every prompt was cut


def test_caller_hangup_reaches_the_box() -> None:
    log, box = run("", hangup_at=2.0)
    assert log[-1] == (2.0, "end:caller")
    assert isinstance(box.events[-1], RemoteHangup)


@pytest.mark.parametrize("script", ["12a", "8-1", "x"])
def test_bad_key_scripts_are_refused_with_the_position(script: str) -> None:
    with pytest.raises(DriverError, match="is not a key"):
        parse_keys(script)


def test_parse_keys() -> None:
    assert parse_keys(" 8,,#*") == [KeyStep("8"), KeyStep("#", 2.0), KeyStep("*")]
