"""Bring-up: identify the modem, unlock the SIM, apply the volatile settings, read registration, IMS and signal.

Written against a synchronous `run(command) -> Reply` (the line's thread pumps the port while it waits; a timeout
raises `ModemUnresponsive`). `apply_settings` is what runs again after every reset of the modem. Reply parsers are
separate so the line's periodic status refresh can use them with asynchronous commands.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable

from . import GsmError
from .engine import Command, Reply
from drivers.serialmodem.privacy import mask_number
from .profiles import Profile, Query
from .status import LineStatus

log = logging.getLogger(__name__)

Run = Callable[[Command], Reply]
Pause = Callable[[float], None]

#: 3GPP TS 27.007 <stat> of +CREG/+CEREG
REGISTRATION = {"0": "not registered", "1": "home", "2": "searching", "3": "denied", "4": "unknown", "5": "roaming"}
CME_SIM = {10: "no SIM inserted", 13: "SIM failure", 15: "wrong SIM", 16: "wrong PIN"}
CME_SIM_BUSY = 14


class ModemUnresponsive(GsmError):
    """A command got no reply after its retries: the recovery ladder takes over."""


class BringUpError(GsmError):
    """The modem answers but cannot serve calls as configured (no SIM, PIN, refused setting)."""


def apply_settings(run: Run, profile: Profile) -> None:
    """Echo off, numeric +CME errors, then the profile's volatile settings (all forgotten on reset)."""
    for text in ("ATE0", "AT+CMEE=1", *profile.settings):
        reply = run(Command(text, retries=1))
        if not reply.ok:
            raise BringUpError(f"the modem refused {text} ({reply.describe()})")
    for text in profile.optional_settings:
        reply = run(Command(text, retries=1))
        if not reply.ok:
            log.warning("optional setting %s refused (%s): this firmware may not have it", text, reply.describe())


def identify(run: Run, status: LineStatus) -> str | None:
    """ATI (manufacturer, model, firmware) and the IMEI, which confirms the port is the modem's AT port; returns the
    IMEI (never logged or reported unmasked)."""
    reply = run(Command("ATI", retries=1))
    manufacturer, model, firmware = parse_ati(reply.lines)
    imei_reply = run(Command("AT+CGSN", retries=1))
    imei = next((m.group(0) for line in imei_reply.lines if (m := re.search(r"\d{14,17}", line))), None)
    status.set(manufacturer=manufacturer, model=model, firmware=firmware, imei=mask_number(imei) if imei else None)
    log.info("modem: %s %s, firmware %s, IMEI %s", manufacturer, model, firmware, mask_number(imei) if imei else "?")
    return imei


def parse_ati(lines: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    tagged = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines) if v}
    plain = [line.strip() for line in lines if ":" not in line and line.strip()]
    manufacturer = tagged.get("manufacturer") or (plain[0] if len(plain) > 1 else None)
    model = tagged.get("model") or (plain[1] if len(plain) > 1 else plain[0] if plain else None)
    return manufacturer, model, tagged.get("revision")


def unlock_sim(run: Run, pin: str | None, status: LineStatus, pause: Pause) -> None:
    """AT+CPIN? until READY; enter the PIN once when asked. The PIN never reaches a log."""
    entered = False
    for _ in range(5):
        state = _sim_state(run(Command("AT+CPIN?", response="+CPIN:", retries=1)))
        status.set(sim=state)
        if state == "READY":
            return
        if state == "busy":
            pause(1.0)
        elif state == "SIM PIN" and pin and not entered:
            reply = run(Command(f'AT+CPIN="{pin}"', timeout_s=10.0, shown='AT+CPIN="****"'))
            if not reply.ok:
                raise BringUpError(f"the SIM refused the configured PIN ({reply.describe()}); check `pin`")
            entered = True
            pause(1.0)
        elif state == "SIM PIN":
            raise BringUpError("the SIM asks for a PIN: set `pin` in this line's configuration")
        else:
            raise BringUpError(f"SIM not usable: {state}")
    raise BringUpError(f"SIM not ready: {status.get('sim')}")


def _sim_state(reply: Reply) -> str:
    for line in reply.lines:
        if line.startswith("+CPIN:"):
            return line[len("+CPIN:"):].strip()
    final = reply.final
    if final is not None and final.code == CME_SIM_BUSY:
        return "busy"
    if final is not None and final.code in CME_SIM:
        return CME_SIM[final.code]
    return f"unknown ({reply.describe()})"


def query_value(query: Query, reply: Reply) -> str | None:
    """The `value` group of the first reply line the query's pattern matches."""
    if not reply.ok:
        return None
    pattern = re.compile(query.pattern)
    for line in reply.lines:
        match = pattern.search(line)
        if match:
            return match.group("value")
    return None


def collect_value(values: list[str | None], query: Query, reply: Reply) -> None:
    values.append(query_value(query, reply))


def query_command(query: Query, command_s: float) -> Command:
    return Command(query.command, command_s, retries=1, response=query.reply)


def registration_of(values: list[str | None]) -> str:
    """The best of the +CEREG/+CREG answers (registered on any is registered)."""
    named = [REGISTRATION.get(v, f"stat {v}") for v in values if v is not None]
    for best in ("home", "roaming", "searching", "denied", "not registered"):
        if best in named:
            return best
    return named[0] if named else "unknown"


def ims_of(values: list[str | None]) -> str:
    if "1" in values:
        return "registered"
    return "not registered" if any(v is not None for v in values) else "unknown"


def signal_of(reply: Reply) -> dict[str, int] | None:
    """+CSQ: <rssi>,<ber> → rssi and dBm (27.007: -113 dBm + 2 per step; 99 unknown)."""
    for line in reply.lines:
        match = re.match(r"\+CSQ:\s*(\d+)", line)
        if match and int(match.group(1)) <= 31:
            rssi = int(match.group(1))
            return {"rssi": rssi, "dbm": -113 + 2 * rssi}
    return None


def read_status(run: Run, profile: Profile, status: LineStatus, command_s: float) -> None:
    registration = registration_of([query_value(q, run(query_command(q, command_s))) for q in profile.registration])
    values = {"registration": registration, "signal": signal_of(run(Command("AT+CSQ", command_s, retries=1)))}
    if profile.needs_volte:
        values["ims"] = ims_of([query_value(q, run(query_command(q, command_s))) for q in profile.ims])
    status.set(**values)
    if profile.needs_volte and values["ims"] != "registered":
        log.error("not registered for VoLTE (IMS %s): calls cannot reach this line once 2G/3G are off; "
                  "check the SIM's VoLTE service and the modem's IMS setting (docs/modems.md)", values["ims"])


def check_sms(run: Run, status: LineStatus) -> None:
    reply = run(Command("AT+CMGF=1", retries=1))
    status.set(sms="ready" if reply.ok else f"unavailable ({reply.describe()})")
