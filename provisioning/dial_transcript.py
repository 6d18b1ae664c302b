"""One dialled call as the demo prints it: the prompts heard with their start times, the keys, and a summary.

Pure: the call's timings and keys, and what the recogniser found in its audio, in; events and the summary out
(`resetline dial` prints them; `dial_report.py` turns several into figures and HTML). Times are seconds from the
answer, like the demo's `t`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from firmware.phone import mask_phone

from .recognise import Heard

#: the prompt that tells each outcome (first one heard wins); a reading of the password tells `reset`
VERDICTS = {"no_caller_id": "no_caller_id", "new_password": "reset", "mismatch": "mismatch", "locked": "locked",
            "invalid_final": "invalid_code", "error": "error"}
READING_STARTS = ("new_password", "repeat")
UNIT_PREFIXES = ("d", "l_")


@dataclass(frozen=True)
class CallFacts:
    """What the dialer knows about one call, in seconds from the INVITE (None: did not happen)."""

    caller: str | None
    answered_s: float | None
    ended_s: float
    box_hung_up: bool
    keys: Sequence[tuple[float, str]] = ()  # (seconds from the INVITE, key)
    audio_start_s: float = 0.0  # when the first captured sample arrived, seconds from the INVITE
    status: int = 0


@dataclass
class Transcript:
    events: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def _is_unit(prompt: str) -> bool:
    return prompt.startswith(UNIT_PREFIXES) and prompt not in READING_STARTS and len(prompt) <= 3


def readings(heard: Sequence[Heard], display: dict[str, str]) -> list[str]:
    """The password as read after each "Mật khẩu mới là:" / "Nhắc lại:" (a unit not recognised reads as '?')."""
    found: list[str] = []
    reading: list[str] | None = None
    for item in heard:
        if item.prompt in READING_STARTS:
            reading = []
            found.append("")
        elif reading is not None and (item.prompt is None or _is_unit(item.prompt)):
            found[-1] += display.get(item.prompt, "?") if item.prompt else "?"
        else:
            reading = None
    return found


def transcribe(facts: CallFacts, heard: Sequence[Heard], display: dict[str, str]) -> Transcript:
    """Events (prompts and keys, in time order) and the summary of one call."""
    origin = facts.answered_s if facts.answered_s is not None else 0.0
    out = Transcript()
    for item in heard:
        t = facts.audio_start_s + item.start_s - origin
        event: dict[str, Any] = {"t": round(t, 2), "say": item.prompt or "?",
                                 "text": display.get(item.prompt or "", ""),
                                 "until": round(t + item.end_s - item.start_s, 2)}
        if item.cut:
            event["cut"] = True
        event["score"] = item.score
        out.events.append(event)
    for when, key in facts.keys:
        out.events.append({"t": round(when - origin, 2), "key": key})
    out.events.sort(key=lambda e: e["t"])
    said = [e for e in out.events if "say" in e]
    outcome, verdict_t = _outcome(facts, said)
    last_key = max((when for when, _ in facts.keys), default=None)
    summary: dict[str, Any] = {
        "outcome": outcome,
        "answered": facts.answered_s is not None,
        "caller": mask_phone(facts.caller),
        "keys": "".join(key for _, key in facts.keys),
        "answer_s": None if facts.answered_s is None else round(facts.answered_s, 3),
        "verdict_after_key_s": None if verdict_t is None or last_key is None
        else round(verdict_t - (last_key - origin), 2),
        "duration_s": round(facts.ended_s - origin, 2),
        "box_hung_up": facts.box_hung_up,
    }
    heard_readings = readings(heard, display)
    if heard_readings:
        summary["password_heard"] = heard_readings
        summary["readings_agree"] = len(set(heard_readings)) == 1 and "?" not in heard_readings[0]
    if facts.answered_s is None:
        summary["status"] = facts.status
    out.summary = summary
    return out


def _outcome(facts: CallFacts, said: Sequence[dict[str, Any]]) -> tuple[str, float | None]:
    """The outcome the prompts tell, and when its verdict prompt started (seconds from the answer)."""
    if facts.answered_s is None:
        return "not_answered", None
    names = [e["say"] for e in said]
    for event in said:
        if event["say"] in VERDICTS:
            outcome = VERDICTS[event["say"]]
            if not facts.box_hung_up:
                outcome = "caller_hangup"  # we hung up first: the demo's rule, whatever was heard
            elif outcome == "reset" and "goodbye" not in names and "change_password" not in names:
                outcome = "unfinished"
            return outcome, float(event["t"])
    if not facts.box_hung_up:
        return "caller_hangup", None
    if names and names[-1] == "goodbye":
        goodbye = [e for e in said if e["say"] == "goodbye"][-1]
        return "timeout", float(goodbye["t"])
    return "unknown", None
