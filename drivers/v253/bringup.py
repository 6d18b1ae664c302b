"""Bringing a stick up: reset, identify it, read the sample formats it offers and choose one, find out whether
it has full duplex, and turn caller ID on. Also the per-call command lists built from what was found.

Every step is a command through `run` (the session's synchronous form); what is learnt goes to the status.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from . import V253Error
from .engine import Command, Reply
from .profiles import Profile, family_of
from .samples import choose, parse_offers
from .status import LineStatus
from .timings import V253Timings

log = logging.getLogger(__name__)

Run = Callable[[Command], Reply]
IDENTITY = (("ati3", "ATI3"), ("manufacturer", "AT+FMI?"), ("model", "AT+FMM?"), ("revision", "AT+FMR?"))


class BringUpError(V253Error):
    """The stick answers but cannot serve a voice line (refuses voice mode, no playable format)."""


@dataclass(frozen=True)
class Setup:
    """What bring-up found: the sample format and the AT+VSM that selects it, duplex, caller ID."""

    fmt: str
    code: int
    vsm: str
    duplex: bool
    caller_id: bool


def bring_up(run: Run, profile: Profile, t: V253Timings, status: LineStatus) -> Setup:
    _must(run, Command("ATZ", t.probe_s, retries=3))
    for text in ("ATE0", "ATV1"):
        _must(run, Command(text, t.command_s))
    identify(run, status, t.command_s)
    if not run(Command("AT+FCLASS=8", t.command_s)).ok:
        raise BringUpError("AT+FCLASS=8 refused: not a voice modem, or a stuck USR5637 (callattendant #163): "
                           "replug it")
    fmt, code = _format(run, profile, t, status)
    vsm = _vsm(run, profile, code, t.command_s)
    duplex = profile.duplex if profile.duplex is not None else run(Command("AT+VTR=?", t.command_s)).ok
    for text in profile.idle:
        run(Command(text, t.command_s))
    caller_id = enable_caller_id(run, profile, t.command_s)
    status.set(format={"fmt": fmt, "code": code, "command": vsm}, duplex=duplex,
               caller_id="on" if caller_id else "refused")
    return Setup(fmt, code, vsm, duplex, caller_id)


def identify(run: Run, status: LineStatus, command_s: float) -> None:
    identity: dict[str, str | None] = {"ati0": _value(run(Command("ATI0", command_s)))}
    for key, text in IDENTITY:
        identity[key] = _value(run(Command(text, command_s)))
    status.set(identity=identity, family=family_of(identity["ati0"]))
    log.info("stick: ATI0 %s, %s %s %s", identity["ati0"], identity["manufacturer"] or "?",
             identity["model"] or "?", identity["revision"] or "")


def enable_caller_id(run: Run, profile: Profile, command_s: float) -> bool:
    ok = True
    for text in profile.caller_id:
        reply = run(Command(text, command_s))
        if not reply.ok:
            log.error("caller ID refused (%s): every caller will be treated as withheld", reply.describe())
            ok = False
    return ok


def caller_id_value(reply: Reply) -> str | None:
    """The value of an `AT+VCID?` reply (`1` or `+VCID: 1`), None when unreadable."""
    return _value(reply)


def answer_commands(profile: Profile, setup: Setup, t: V253Timings) -> list[tuple[Command, bool]]:
    """What goes before off-hook on every call, re-sent each time (`ATH0` leaves voice mode on some chips):
    (command, required)."""
    commands = [(Command("AT+FCLASS=8", t.command_s), True), (Command(setup.vsm, t.command_s), True)]
    if profile.silence is not None:
        sdi = min(255, max(1, round(t.silence_s * 10)))
        commands.append((Command(profile.silence.format(sdi=sdi), t.command_s), False))
    commands.append((Command(f"AT+VIT={max(0, min(255, t.vit_s))}", t.command_s), False))
    commands.append((Command(profile.answer, t.answer_s), True))
    return commands


def after_call_commands(profile: Profile, t: V253Timings) -> list[Command]:
    """On-hook, back to idle, caller ID on again."""
    return [Command(text, t.command_s) for text in (*profile.hang_up, *profile.idle, *profile.caller_id)]


# -- inside ------------------------------------------------------------------------------------------------------------
def _must(run: Run, command: Command) -> Reply:
    reply = run(command)
    if not reply.ok:
        raise BringUpError(f"{reply.describe()}")
    return reply


def _format(run: Run, profile: Profile, t: V253Timings, status: LineStatus) -> tuple[str, int]:
    reply = run(Command("AT+VSM=?", t.command_s))
    offers = parse_offers(list(reply.lines)) if reply.ok else []
    status.set(formats=[f"{o.code} {o.name}" for o in offers])
    chosen = choose(offers, profile.preference)
    if chosen is not None and chosen.fmt is not None:
        log.info("sample format: %s (AT+VSM code %d, %s) of %d offered", chosen.fmt, chosen.code, chosen.name,
                 len(offers))
        return chosen.fmt, chosen.code
    code, fmt = profile.fallback_format
    log.warning("AT+VSM=? gave no playable 8 kHz format (%d offers): assuming %s, code %d", len(offers), fmt, code)
    status.set(format_fallback=True)
    return fmt, code


def _vsm(run: Run, profile: Profile, code: int, command_s: float) -> str:
    """The first AT+VSM form the stick accepts (vgetty tries 2 arguments, then 4: some reject missing ones)."""
    forms = {2: f"AT+VSM={code},8000", 4: f"AT+VSM={code},8000,0,0"}
    for arity in profile.vsm_arity:
        reply = run(Command(forms[arity], command_s))
        if reply.ok:
            return forms[arity]
    raise BringUpError(f"the stick refused every form of AT+VSM for code {code}")


def _value(reply: Reply) -> str | None:
    if not reply.ok or not reply.lines:
        return None
    text = reply.lines[0].strip()
    text = re.sub(r"^\+[A-Z]+:\s*", "", text)
    return text.strip('"').strip() or None
