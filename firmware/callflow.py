"""The reset call as a pure state machine: `CallFlow.handle(event) -> [actions]`, no I/O, no clock.

Every transition is a row of `TRANSITIONS` (source state, trigger, guard, target, effect); `handle` takes the first
row whose trigger and guard match. The state diagram in docs/callflow.md is generated from the same table
(`firmware.callflow_diagram`), so the picture cannot drift from the code.

Timers are explicit actions (`StartTimer`/`CancelTimer`) fed back as `TimerFired`; the verdict comes back as
`CheckDone` after the runner ran `CheckCaller`. The password reaches the flow only inside `CheckDone`, i.e. only
after the runner made the reset durable in the outbox.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from drivers.line import IncomingCall, KeyPressed, LineEvent, PlaybackFinished, RemoteHangup

from . import password as pw
from .insurance_code import is_valid_code
from .phone import is_withheld


class State(enum.Enum):
    RINGING = "ringing"
    NO_CALLER_ID = "no_caller_id"
    MENU = "menu"
    ENTRY = "entry"
    CHECKING = "checking"
    READING = "reading"
    REPEATING = "repeating"
    CLOSING = "closing"
    FAREWELL = "farewell"
    ENDED = "ended"


class Outcome(str, enum.Enum):
    RESET = "reset"
    MISMATCH = "mismatch"
    LOCKED = "locked"
    TIMEOUT = "timeout"
    INVALID_CODE = "invalid_code"
    NO_CALLER_ID = "no_caller_id"
    CALLER_HANGUP = "caller_hangup"
    ERROR = "error"


class Verdict(str, enum.Enum):
    RESET = "reset"
    MISMATCH = "mismatch"
    LOCKED = "locked"
    ERROR = "error"


# --- events the flow receives besides the line's own -------------------------------------------------------------
@dataclass(frozen=True)
class TimerFired:
    name: str


@dataclass(frozen=True)
class CheckDone:
    verdict: Verdict
    password: str | None = None  # only for Verdict.RESET, only once the reset is durable


FlowEvent = LineEvent | TimerFired | CheckDone


# --- actions ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    pass


@dataclass(frozen=True)
class Play:
    prompts: tuple[str, ...]
    token: int


@dataclass(frozen=True)
class StopPlayback:
    pass


@dataclass(frozen=True)
class HangUp:
    pass


@dataclass(frozen=True)
class StartTimer:
    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class CheckCaller:
    caller: str
    code: str


@dataclass(frozen=True)
class Finish:
    outcome: Outcome


@dataclass(frozen=True)
class VoidReset:
    """A reset was issued after the flow stopped waiting for it (check timeout, caller gone): nobody heard the
    password, so central must not apply it."""


Action = Answer | Play | StopPlayback | HangUp | StartTimer | CancelTimer | CheckCaller | Finish | VoidReset

MENU_KEY = "8"
REPEAT_KEY = "9"

#: every prompt id the flow can ask a line to play (the box refuses to start when one has no audio)
SENTENCES = (
    "welcome", "menu", "ask_code", "invalid_code", "invalid_final", "no_caller_id", "mismatch", "locked",
    "new_password", "repeat", "change_password", "goodbye", "error",
)
PLAYABLE = SENTENCES + tuple(pw.UNIT_IDS.values()) + (pw.PAUSE_CHAR, pw.PAUSE_GROUP)
TIMER_MENU, TIMER_ENTRY, TIMER_CALL, TIMER_CHECK = "menu", "entry", "call", "check"
TIMERS = (TIMER_MENU, TIMER_ENTRY, TIMER_CALL, TIMER_CHECK)


@dataclass(frozen=True)
class FlowSettings:
    """The caller-facing timings and limits (the `[call]` table of the configuration)."""

    menu_timeout_s: float = 8.0
    entry_timeout_s: float = 10.0
    max_invalid: int = 3
    max_call_s: float = 180.0
    check_timeout_s: float = 10.0
    max_extra_readings: int = 2  # readings of the password the caller can ask for with 9, beyond the two


def trigger_of(event: FlowEvent) -> str:
    """The name a transition row uses for an event."""
    if isinstance(event, IncomingCall):
        return "ring"
    if isinstance(event, KeyPressed):
        return "key"
    if isinstance(event, PlaybackFinished):
        return "played"
    if isinstance(event, RemoteHangup):
        return "hangup"
    if isinstance(event, TimerFired):
        return f"timeout:{event.name}"
    return "checked"


Guard = Callable[["CallFlow", FlowEvent], bool]
Effect = Callable[["CallFlow", FlowEvent], list[Action]]


@dataclass(frozen=True)
class Transition:
    source: State
    trigger: str
    guard: Guard | None
    target: State
    effect: Effect
    label: str = ""  # the guard in words, for the diagram


class CallFlow:
    """One call. Feed it events in order; carry out the actions it returns, in order."""

    def __init__(self, settings: FlowSettings = FlowSettings()) -> None:
        self.settings = settings
        self.state = State.RINGING
        self.outcome: Outcome | None = None
        self.caller: str | None = None
        self.digits = ""
        self.invalid_entries = 0
        self.silences = 0  # prompts re-asked because the caller pressed nothing
        self.autosubmitted = False
        self.password: str | None = None
        self.extra_readings = 0
        self.repeat_asked = False  # 9 pressed during a reading: one more reading follows it
        self._token = 0
        self._playing = False

    # -- the engine --------------------------------------------------------------------------------------------------
    def handle(self, event: FlowEvent) -> list[Action]:
        if isinstance(event, PlaybackFinished):
            if event.token != self._token or not self._playing:
                return []  # a stale report about a playback already stopped or replaced
            self._playing = False
        if isinstance(event, CheckDone) and event.verdict is Verdict.RESET and self.state is not State.CHECKING:
            return [VoidReset()]  # too late: the caller heard the apology or has gone, never this password
        trigger = trigger_of(event)
        for row in TRANSITIONS:
            if row.source is self.state and row.trigger == trigger and (row.guard is None or row.guard(self, event)):
                actions = row.effect(self, event)
                self.state = row.target
                return actions
        return []  # the event means nothing in this state (e.g. a key while the password is read)

    # -- helpers the effects share -----------------------------------------------------------------------------------
    def _play(self, *prompts: str) -> list[Action]:
        assert all(prompt in PLAYABLE for prompt in prompts), prompts
        self._token += 1
        self._playing = True
        return [Play(tuple(prompts), self._token)]

    def _silence(self) -> list[Action]:
        if not self._playing:
            return []
        self._playing = False
        return [StopPlayback()]

    def _interrupt(self) -> list[Action]:
        """Barge-in: a key during an input prompt stops it; timers waiting for the caller stop too."""
        return self._silence() + [CancelTimer(TIMER_MENU), CancelTimer(TIMER_ENTRY)]

    def _farewell(self, outcome: Outcome, *prompts: str) -> list[Action]:
        self.outcome = outcome
        cancels: list[Action] = [CancelTimer(name) for name in TIMERS]
        return self._silence() + cancels + self._play(*prompts)

    def _end(self, outcome: Outcome, hang_up: bool) -> list[Action]:
        self.outcome = outcome
        self.password = None
        actions: list[Action] = [CancelTimer(name) for name in TIMERS]
        if hang_up:
            actions.append(HangUp())
        actions.append(Finish(outcome))
        return actions

    def _invalid(self) -> list[Action]:
        self.digits = ""
        self.invalid_entries += 1
        return self._interrupt() + self._play("invalid_code")

    def _check(self) -> list[Action]:
        assert self.caller is not None
        code, self.digits = self.digits, ""
        return self._interrupt() + [StartTimer(TIMER_CHECK, self.settings.check_timeout_s), CheckCaller(self.caller, code)]


# --- guards ----------------------------------------------------------------------------------------------------------
def _key(event: FlowEvent) -> str:
    return event.key if isinstance(event, KeyPressed) else ""


def _withheld(flow: CallFlow, event: FlowEvent) -> bool:
    return isinstance(event, IncomingCall) and is_withheld(event.caller)


def _is_menu_key(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event) == MENU_KEY


def _first_silence(flow: CallFlow, event: FlowEvent) -> bool:
    return flow.silences == 0


def _digit_completes_valid(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event).isdigit() and len(flow.digits) == 9 and is_valid_code(flow.digits + _key(event))


def _digit_completes_invalid(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event).isdigit() and len(flow.digits) == 9 and not _last_invalid(flow)


def _digit_completes_invalid_last(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event).isdigit() and len(flow.digits) == 9 and _last_invalid(flow)


def _digit(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event).isdigit()


def _hash_after_autosubmit(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event) == "#" and flow.autosubmitted and not flow.digits


def _hash_invalid(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event) == "#" and not _last_invalid(flow)


def _hash_invalid_last(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event) == "#" and _last_invalid(flow)


def _last_invalid(flow: CallFlow) -> bool:
    return flow.invalid_entries + 1 >= flow.settings.max_invalid


def _repeat_key(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event) == REPEAT_KEY and flow.extra_readings < flow.settings.max_extra_readings


def _repeat_asked(flow: CallFlow, event: FlowEvent) -> bool:
    return flow.repeat_asked


def _star(flow: CallFlow, event: FlowEvent) -> bool:
    return _key(event) == "*"


def _verdict(verdict: Verdict) -> Guard:
    def guard(flow: CallFlow, event: FlowEvent) -> bool:
        return isinstance(event, CheckDone) and event.verdict is verdict

    return guard


# --- effects ---------------------------------------------------------------------------------------------------------
def _answer_withheld(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return [Answer(), *flow._play("no_caller_id")]


def _answer(flow: CallFlow, event: FlowEvent) -> list[Action]:
    assert isinstance(event, IncomingCall)
    flow.caller = event.caller
    return [Answer(), StartTimer(TIMER_CALL, flow.settings.max_call_s), *flow._play("welcome", "menu")]


def _hang_up_no_caller_id(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._end(Outcome.NO_CALLER_ID, hang_up=True)


def _ask_code(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.silences = 0
    return flow._interrupt() + flow._play("ask_code")


def _menu_again(flow: CallFlow, event: FlowEvent) -> list[Action]:
    if isinstance(event, TimerFired):
        flow.silences += 1
    else:
        flow.silences = 0
    return flow._interrupt() + flow._play("menu")


def _wait_menu(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return [StartTimer(TIMER_MENU, flow.settings.menu_timeout_s)]


def _wait_entry(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return [StartTimer(TIMER_ENTRY, flow.settings.entry_timeout_s)]


def _timeout_goodbye(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._farewell(Outcome.TIMEOUT, "goodbye")


def _add_digit(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.digits += _key(event)
    flow.autosubmitted = False
    flow.silences = 0
    return flow._interrupt() + _wait_entry(flow, event)


def _autosubmit(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.digits += _key(event)
    flow.autosubmitted = True
    return flow._check()


def _autosubmit_invalid(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.autosubmitted = True
    return flow._invalid()


def _submit_invalid(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.autosubmitted = False
    return flow._invalid()


def _invalid_final(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.digits = ""
    flow.invalid_entries += 1
    return flow._farewell(Outcome.INVALID_CODE, "invalid_final", "goodbye")


def _clear_entry(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.digits = ""
    flow.autosubmitted = False
    return flow._interrupt() + flow._play("ask_code")


def _entry_again(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.silences += 1
    flow.digits = ""
    return flow._play("ask_code")


def _nothing(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return []


def _read_password(flow: CallFlow, event: FlowEvent) -> list[Action]:
    assert isinstance(event, CheckDone) and event.password is not None
    flow.password = event.password
    return [CancelTimer(TIMER_CHECK), CancelTimer(TIMER_CALL), *flow._play("new_password", *pw.spoken(event.password))]


def _repeat_password(flow: CallFlow, event: FlowEvent) -> list[Action]:
    assert flow.password is not None
    return flow._play("repeat", *pw.spoken(flow.password))


def _ask_repeat(flow: CallFlow, event: FlowEvent) -> list[Action]:
    flow.repeat_asked = True  # the reading in progress is never cut: the extra one follows it
    return []


def _extra_reading(flow: CallFlow, event: FlowEvent) -> list[Action]:
    assert flow.password is not None
    flow.repeat_asked = False
    flow.extra_readings += 1
    return flow._silence() + flow._play("repeat", *pw.spoken(flow.password))


def _close_reset(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._farewell(Outcome.RESET, "change_password", "goodbye")


def _say_mismatch(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._farewell(Outcome.MISMATCH, "mismatch", "goodbye")


def _say_locked(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._farewell(Outcome.LOCKED, "locked")


def _say_error(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._farewell(Outcome.ERROR, "error")


def _hang_up_after_farewell(flow: CallFlow, event: FlowEvent) -> list[Action]:
    assert flow.outcome is not None
    return flow._end(flow.outcome, hang_up=True)


def _caller_gone(flow: CallFlow, event: FlowEvent) -> list[Action]:
    return flow._end(Outcome.CALLER_HANGUP, hang_up=False)


S, T = State, Transition
TRANSITIONS: tuple[Transition, ...] = (
    T(S.RINGING, "ring", _withheld, S.NO_CALLER_ID, _answer_withheld, "caller ID withheld"),
    T(S.RINGING, "ring", None, S.MENU, _answer),
    T(S.NO_CALLER_ID, "played", None, S.ENDED, _hang_up_no_caller_id),
    T(S.MENU, "key", _is_menu_key, S.ENTRY, _ask_code, "8"),
    T(S.MENU, "key", None, S.MENU, _menu_again, "other key"),
    T(S.MENU, "played", None, S.MENU, _wait_menu),
    T(S.MENU, "timeout:menu", _first_silence, S.MENU, _menu_again, "first time"),
    T(S.MENU, "timeout:menu", None, S.FAREWELL, _timeout_goodbye, "second time"),
    T(S.MENU, "timeout:call", None, S.FAREWELL, _timeout_goodbye),
    T(S.ENTRY, "key", _digit_completes_valid, S.CHECKING, _autosubmit, "10th digit, valid code"),
    T(S.ENTRY, "key", _digit_completes_invalid, S.ENTRY, _autosubmit_invalid, "10th digit, bad format"),
    T(S.ENTRY, "key", _digit_completes_invalid_last, S.FAREWELL, _invalid_final, "10th digit, bad format, last try"),
    T(S.ENTRY, "key", _digit, S.ENTRY, _add_digit, "digit"),
    T(S.ENTRY, "key", _hash_after_autosubmit, S.ENTRY, _nothing, "# right after auto-submit"),
    T(S.ENTRY, "key", _hash_invalid, S.ENTRY, _submit_invalid, "# before ten digits"),
    T(S.ENTRY, "key", _hash_invalid_last, S.FAREWELL, _invalid_final, "# before ten digits, last try"),
    T(S.ENTRY, "key", _star, S.ENTRY, _clear_entry, "*"),
    T(S.ENTRY, "played", None, S.ENTRY, _wait_entry),
    T(S.ENTRY, "timeout:entry", _first_silence, S.ENTRY, _entry_again, "first time"),
    T(S.ENTRY, "timeout:entry", None, S.FAREWELL, _timeout_goodbye, "second time"),
    T(S.ENTRY, "timeout:call", None, S.FAREWELL, _timeout_goodbye),
    T(S.CHECKING, "checked", _verdict(Verdict.RESET), S.READING, _read_password, "match: reset is durable"),
    T(S.CHECKING, "checked", _verdict(Verdict.MISMATCH), S.FAREWELL, _say_mismatch, "no match"),
    T(S.CHECKING, "checked", _verdict(Verdict.LOCKED), S.FAREWELL, _say_locked, "too many attempts"),
    T(S.CHECKING, "checked", _verdict(Verdict.ERROR), S.FAREWELL, _say_error, "outbox or snapshot failed"),
    T(S.CHECKING, "timeout:check", None, S.FAREWELL, _say_error),
    T(S.READING, "key", _repeat_key, S.READING, _ask_repeat, "9: read once more after this"),
    T(S.READING, "played", None, S.REPEATING, _repeat_password),
    T(S.REPEATING, "key", _repeat_key, S.REPEATING, _ask_repeat, "9: read once more after this"),
    T(S.REPEATING, "played", _repeat_asked, S.REPEATING, _extra_reading, "9 was pressed"),
    T(S.REPEATING, "played", None, S.CLOSING, _close_reset),
    T(S.CLOSING, "key", _repeat_key, S.REPEATING, _extra_reading, "9: read it again"),
    T(S.CLOSING, "played", None, S.ENDED, _hang_up_after_farewell),
    T(S.FAREWELL, "played", None, S.ENDED, _hang_up_after_farewell),
    *(T(state, "hangup", None, S.ENDED, _caller_gone) for state in State if state not in (S.RINGING, S.ENDED)),
)
