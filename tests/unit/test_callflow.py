"""The call flow as a pure state machine: every branch a caller can take, fed event by event."""
from __future__ import annotations

import pytest

from drivers.line import IncomingCall, KeyPressed, PlaybackFinished, RemoteHangup
from firmware.callflow import (
    VoidReset,
    Action,
    Answer,
    CallFlow,
    CancelTimer,
    CheckCaller,
    CheckDone,
    Finish,
    FlowEvent,
    PLAYABLE,
    HangUp,
    Outcome,
    Play,
    StartTimer,
    State,
    StopPlayback,
    TimerFired,
    Verdict,
)
from firmware.password import spoken

CALLER = "0912345678"
CODE = "0123456789"
PASSWORD = "4h7k2905"


class Call:
    """Drives one CallFlow like a line would, remembering what the caller heard and which timers run."""

    def __init__(self) -> None:
        self.flow = CallFlow()
        self.actions: list[Action] = []
        self.token = 0
        self.timers: dict[str, float] = {}

    def send(self, event: FlowEvent) -> list[Action]:
        out = self.flow.handle(event)
        for action in out:
            if isinstance(action, Play):
                self.token = action.token
            elif isinstance(action, StartTimer):
                self.timers[action.name] = action.seconds
            elif isinstance(action, CancelTimer):
                self.timers.pop(action.name, None)
        self.actions += out
        return out

    def ring(self, caller: str | None = CALLER) -> list[Action]:
        return self.send(IncomingCall("c1", caller))

    def key(self, keys: str) -> list[Action]:
        out: list[Action] = []
        for k in keys:
            out += self.send(KeyPressed("c1", k))
        return out

    def done(self) -> list[Action]:
        return self.send(PlaybackFinished("c1", self.token))

    def fire(self, name: str) -> list[Action]:
        assert name in self.timers, f"timer {name} is not running (running: {sorted(self.timers)})"
        del self.timers[name]
        return self.send(TimerFired(name))

    def at_entry(self) -> None:
        self.ring()
        self.done()
        self.key("8")
        self.done()


def plays(actions: list[Action]) -> list[tuple[str, ...]]:
    return [a.prompts for a in actions if isinstance(a, Play)]


def finish(actions: list[Action]) -> Outcome | None:
    found = [a.outcome for a in actions if isinstance(a, Finish)]
    return found[-1] if found else None


def test_answers_and_plays_welcome_then_menu() -> None:
    call = Call()
    out = call.ring()
    assert isinstance(out[0], Answer)
    assert plays(out) == [("welcome", "menu")]
    assert call.flow.state is State.MENU


@pytest.mark.parametrize("caller", [None, "", "anonymous", "Restricted", "P", "O"])
def test_withheld_number_hears_why_and_is_hung_up_before_any_question(caller: str | None) -> None:
    call = Call()
    out = call.ring(caller)
    assert plays(out) == [("no_caller_id",)]
    call.key("8")  # keys mean nothing here
    out = call.done()
    assert HangUp() in out and finish(out) is Outcome.NO_CALLER_ID
    assert not any(isinstance(a, CheckCaller) for a in call.actions)
    assert all(p == ("no_caller_id",) for p in plays(call.actions))


def test_successful_reset_with_auto_submit_reads_password_twice_then_closes() -> None:
    call = Call()
    call.at_entry()
    out = call.key(CODE)
    assert out[-1] == CheckCaller(CALLER, CODE)
    assert call.flow.state is State.CHECKING
    out = call.send(CheckDone(Verdict.RESET, PASSWORD))
    assert plays(out) == [("new_password", *spoken(PASSWORD))]
    assert call.key("1#*") == []  # keys cannot cut the password reading
    out = call.done()
    assert plays(out) == [("repeat", *spoken(PASSWORD))]
    out = call.done()
    assert plays(out) == [("change_password", "goodbye")]
    out = call.done()
    assert out[-2:] == [HangUp(), Finish(Outcome.RESET)]
    assert call.flow.password is None  # not kept after the call


def _reading(call: Call) -> None:
    call.at_entry()
    call.key(CODE)
    call.send(CheckDone(Verdict.RESET, PASSWORD))


def test_9_during_a_reading_adds_one_reading_after_it_without_cutting_it() -> None:
    call = Call()
    _reading(call)
    assert call.key("9") == []
    assert plays(call.done()) == [("repeat", *spoken(PASSWORD))]  # the planned second reading
    assert plays(call.done()) == [("repeat", *spoken(PASSWORD))]  # the one asked for
    assert plays(call.done()) == [("change_password", "goodbye")]
    assert call.done()[-1] == Finish(Outcome.RESET)


def test_9_during_the_closing_reads_the_password_again_then_closes() -> None:
    call = Call()
    _reading(call)
    call.done()
    call.done()
    out = call.key("9")
    assert out[0] == StopPlayback() and plays(out) == [("repeat", *spoken(PASSWORD))]
    assert plays(call.done()) == [("change_password", "goodbye")]
    out = call.done()
    assert out[-2:] == [HangUp(), Finish(Outcome.RESET)]
    assert call.flow.password is None


def test_extra_readings_are_limited() -> None:
    call = Call()
    _reading(call)
    readings = 1
    for _ in range(10):
        call.key("9")
        out = call.done()
        readings += sum(1 for p in plays(out) if p[0] == "repeat")
        if call.flow.state is State.ENDED:
            break
    assert readings == 2 + call.flow.settings.max_extra_readings


def test_hash_right_after_auto_submit_is_ignored_not_a_new_entry() -> None:
    call = Call()
    call.at_entry()
    call.key(CODE)
    assert call.key("#") == []
    assert call.flow.state is State.CHECKING


def test_hash_after_an_invalid_auto_submitted_code_is_not_counted_again() -> None:
    call = Call()
    call.at_entry()
    out = call.key("0012345678")  # ten digits, bad province prefix
    assert plays(out) == [("invalid_code",)]
    assert call.key("#") == []
    assert call.flow.invalid_entries == 1


def test_star_clears_the_entry_and_asks_again() -> None:
    call = Call()
    call.at_entry()
    call.key("01234")
    out = call.key("*")
    assert plays(out) == [("ask_code",)] and call.flow.digits == ""
    call.done()
    out = call.key(CODE)
    assert out[-1] == CheckCaller(CALLER, CODE)


def test_third_invalid_entry_ends_the_call() -> None:
    call = Call()
    call.at_entry()
    assert plays(call.key("123#")) == [("invalid_code",)]
    call.done()
    assert plays(call.key("#")) == [("invalid_code",)]
    call.done()
    out = call.key("0000000000")
    assert plays(out) == [("invalid_final", "goodbye")]
    out = call.done()
    assert out[-2:] == [HangUp(), Finish(Outcome.INVALID_CODE)]
    assert not any(isinstance(a, CheckCaller) for a in call.actions)


def test_other_key_in_menu_replays_menu_and_8_still_works() -> None:
    call = Call()
    call.ring()
    out = call.key("5")
    assert out[0] == StopPlayback() and plays(out) == [("menu",)]
    assert plays(call.key("8")) == [("ask_code",)]


def test_menu_silence_repeats_menu_once_then_says_goodbye() -> None:
    call = Call()
    call.ring()
    call.done()
    assert call.timers["menu"] == 8.0
    assert plays(call.fire("menu")) == [("menu",)]
    call.done()
    assert plays(call.fire("menu")) == [("goodbye",)]
    out = call.done()
    assert out[-2:] == [HangUp(), Finish(Outcome.TIMEOUT)]


def test_entry_silence_asks_again_once_then_ends() -> None:
    call = Call()
    call.at_entry()
    assert call.timers["entry"] == 10.0
    call.key("0123")
    assert plays(call.fire("entry")) == [("ask_code",)]
    assert call.flow.digits == ""
    call.done()
    assert plays(call.fire("entry")) == [("goodbye",)]
    assert finish(call.done()) is Outcome.TIMEOUT


def test_entry_timer_restarts_with_every_key_and_is_paused_while_a_prompt_plays() -> None:
    call = Call()
    call.ring()
    call.done()
    call.key("8")
    assert "entry" not in call.timers  # ask_code still playing
    call.key("0")  # barge-in
    assert call.timers["entry"] == 10.0
    assert StopPlayback() in call.actions


@pytest.mark.parametrize(
    ("verdict", "prompts", "outcome"),
    [
        (Verdict.MISMATCH, ("mismatch", "goodbye"), Outcome.MISMATCH),
        (Verdict.LOCKED, ("locked",), Outcome.LOCKED),
        (Verdict.ERROR, ("error",), Outcome.ERROR),
    ],
)
def test_verdicts_other_than_reset(verdict: Verdict, prompts: tuple[str, ...], outcome: Outcome) -> None:
    call = Call()
    call.at_entry()
    call.key(CODE)
    assert plays(call.send(CheckDone(verdict))) == [prompts]
    assert call.key("9") == []  # the verdict is heard in full
    out = call.done()
    assert out[-2:] == [HangUp(), Finish(outcome)]


def test_a_check_that_never_answers_ends_in_an_apology() -> None:
    call = Call()
    call.at_entry()
    call.key(CODE)
    assert plays(call.fire("check")) == [("error",)]
    assert call.send(CheckDone(Verdict.RESET, PASSWORD)) == [VoidReset()]  # too late: never spoken, so voided
    assert finish(call.done()) is Outcome.ERROR
    assert all(p[0] != "new_password" for p in plays(call.actions))


def test_a_reset_arriving_after_the_caller_hung_up_is_voided_and_other_late_verdicts_are_ignored() -> None:
    call = Call()
    call.at_entry()
    call.key(CODE)
    assert finish(call.send(RemoteHangup("c1"))) is Outcome.CALLER_HANGUP
    assert call.send(CheckDone(Verdict.MISMATCH)) == []
    assert call.send(CheckDone(Verdict.RESET, PASSWORD)) == [VoidReset()]


def test_barge_in_stops_the_prompt_before_anything_else() -> None:
    call = Call()
    call.ring()
    out = call.key("8")
    assert out[0] == StopPlayback()
    out = call.key("0")
    assert out[0] == StopPlayback()
    assert plays(out) == []


def test_stale_playback_report_is_ignored() -> None:
    call = Call()
    call.ring()
    old = call.token
    call.key("8")  # stops welcome/menu, plays ask_code
    assert call.send(PlaybackFinished("c1", old)) == []
    assert "entry" not in call.timers


def _steps_to(state: State) -> Call:
    call = Call()
    if state is State.NO_CALLER_ID:
        call.ring(None)
        return call
    call.ring()
    if state is State.MENU:
        return call
    call.done()
    call.key("8")
    if state is State.ENTRY:
        return call
    call.key(CODE)
    if state is State.CHECKING:
        return call
    if state is State.FAREWELL:
        call.send(CheckDone(Verdict.MISMATCH))
        return call
    call.send(CheckDone(Verdict.RESET, PASSWORD))
    if state is State.READING:
        return call
    call.done()
    if state is State.REPEATING:
        return call
    call.done()
    return call


@pytest.mark.parametrize(
    "state",
    [State.NO_CALLER_ID, State.MENU, State.ENTRY, State.CHECKING, State.READING, State.REPEATING, State.CLOSING,
     State.FAREWELL],
)
def test_caller_hanging_up_anywhere_ends_cleanly(state: State) -> None:
    call = _steps_to(state)
    assert call.flow.state is state
    out = call.send(RemoteHangup("c1"))
    assert finish(out) is Outcome.CALLER_HANGUP
    assert HangUp() not in out and not plays(out)
    assert call.timers == {}
    assert call.flow.password is None
    assert call.key("8") == [] and call.done() == []


def test_whole_call_limit_ends_a_caller_who_keeps_pressing_wrong_keys() -> None:
    call = Call()
    call.ring()
    assert call.timers["call"] == 180.0
    for _ in range(5):
        call.key("1")
    assert plays(call.fire("call")) == [("goodbye",)]
    assert finish(call.done()) is Outcome.TIMEOUT


def test_everything_the_flow_can_play_has_audio() -> None:
    from voice_prompts.catalog import PromptCatalog

    catalog = PromptCatalog.load()
    assert all(catalog.duration(prompt_id) > 0 for prompt_id in PLAYABLE)
    assert set(catalog.ids()) == set(PLAYABLE)  # and no prompt ships that nothing plays
