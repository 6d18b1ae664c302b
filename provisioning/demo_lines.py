"""The far side of each line kind in `resetline demo --line`: who the scripted caller talks to.

`sim` is the simulated line itself; `gsm-sim` and `v253-sim` are our real GSM and V.253 drivers over a
pseudo-terminal to the modem simulator of one profile (on `v253-sim` the keys travel as DTMF tones in the audio,
decoded by our own receiver). Each rig returns the caller's telephone and the line the box serves, and tears both down in order.
"""
from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from drivers.clock import Scheduler
from drivers.gsm import GsmLine, ModemSimulator
from drivers.line import Line, Post
from drivers.simcaller import Telephone
from drivers.simline import SimulatedLine
from drivers.v253 import V253Line, V253Simulator
from firmware import config as configuration
from firmware.appliance import Appliance
from firmware.callflow import PLAYABLE
from firmware.daemon import make_line

from . import ProvisioningError

LINES = ("sim", "gsm-sim", "v253-sim")
GSM_PROFILES = ("ec25", "sim7600", "sim800")
V253_PROFILES = ("generic", "usr5637", "cx93010")
PROFILES = GSM_PROFILES + V253_PROFILES
#: how long a simulated modem may take to come up before the demo gives up
BRING_UP_S = 30.0


@dataclass
class Rig:
    telephone: Telephone
    line: Line


def open_rig(
    kind: str,
    appliance: Appliance,
    scheduler: Scheduler,
    post: Post,
    stack: ExitStack,
    *,
    speed: float,
    profile: str | None,
) -> Rig:
    """Build the line and its far side; `stack` closes the line, then its simulator."""
    if kind == "sim":
        line = SimulatedLine("sim0", scheduler, appliance.prompts)
        return Rig(line, line)
    if kind == "gsm-sim":
        return _gsm_rig(appliance, scheduler, post, stack, speed=speed, profile=_fit(profile, GSM_PROFILES))
    if kind == "v253-sim":
        return _v253_rig(appliance, scheduler, post, stack, speed=speed, profile=_fit(profile, V253_PROFILES))
    raise ProvisioningError(f"--line: unknown line {kind!r}; known: {', '.join(LINES)}")


def _fit(profile: str | None, known: tuple[str, ...]) -> str:
    if profile is None:
        return known[0]
    if profile not in known:
        raise ProvisioningError(f"--profile {profile}: this line's simulator knows {', '.join(known)}")
    return profile


def _gsm_rig(
    appliance: Appliance, scheduler: Scheduler, post: Post, stack: ExitStack, *, speed: float, profile: str
) -> Rig:
    link = Path(appliance.state_dir) / "gsm-sim"
    modem = ModemSimulator(profile, speed=speed, post=post, link=link, prompts=appliance.prompts,
                           prompt_ids=PLAYABLE)
    modem.start()
    stack.callback(modem.close)
    config = configuration.GsmLineConfig(name="gsm0", port=str(modem.port), profile=profile)
    line = make_line(config, scheduler, appliance, post, power_cycle=modem.power_cycle, speed=speed)
    assert isinstance(line, GsmLine)
    stack.callback(line.close)
    return Rig(modem, line)


def _v253_rig(
    appliance: Appliance, scheduler: Scheduler, post: Post, stack: ExitStack, *, speed: float, profile: str
) -> Rig:
    modem = V253Simulator(profile, speed=speed, post=post, link=Path(appliance.state_dir) / "v253-sim",
                          prompts=appliance.prompts, prompt_ids=PLAYABLE)
    modem.start()
    stack.callback(modem.close)
    config = configuration.V253LineConfig(name="pots0", port=str(modem.port), profile=profile, dtmf="detector")
    line = make_line(config, scheduler, appliance, post, speed=speed)
    assert isinstance(line, V253Line)
    stack.callback(line.close)
    return Rig(modem, line)


async def wait_ready(line: Line) -> None:
    """A GSM line brings itself up in the background: wait until it is up, or say why not."""
    if isinstance(line, (GsmLine, V253Line)):
        state = await asyncio.get_running_loop().run_in_executor(None, line.wait_state, ("up", "down"), BRING_UP_S)
        if state != "up":
            raise ProvisioningError(f"the simulated modem did not come up ({state}): {line.report().get('last_error')}")
